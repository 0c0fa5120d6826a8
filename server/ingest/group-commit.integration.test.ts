/**
 * Group commit (server/ingest/group-commit.ts) against its invariants:
 * grouped answers equal the one-at-a-time answers (a model, and the real
 * one-event-per-INSERT path), two requests with one id in one group, one
 * row the database refuses fails only its own request, and a group whose
 * connection is cut mid-INSERT is refused with 503s and loses no
 * acknowledged event.
 *
 * The database sits behind a TCP proxy (test/tcp-proxy.ts) so that the
 * connection under a group can be cut; server/env.ts reads DATABASE_URL at
 * import, so the proxy starts first and server modules are imported after.
 * WEBHOOK_GROUP_COMMIT_MS is raised so that posts sent together surely share
 * a group.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keepAliveClient, mapConcurrent, type Reply } from "../../test/http-client.ts";
import type { TestServer } from "../../test/http.ts";
import { routeThroughProxy } from "../../test/tcp-proxy.ts";

const { proxy, directUrl } = await routeThroughProxy("DATABASE_URL");
process.env.WEBHOOK_GROUP_COMMIT_MS = "100";

const { createTestTenant, itemEvent, newEventId, WEBHOOK_SERVERS, signedHeaders } = await import("../../test/webhooks.ts");
const { GroupCommitter, groupCommitter } = await import("./group-commit.ts");
const { parseEvent } = await import("./envelope.ts");
const { storeEvents } = await import("./store-events.ts");
const { seededRandom, shuffled } = await import("../lib/random.ts");

type StoreOutcome = "accepted" | "duplicate" | "conflict";

let direct: pg.Client;
beforeAll(async () => {
  direct = new pg.Client({ connectionString: directUrl });
  await direct.connect();
});
afterAll(async () => {
  await proxy.restore();
  await direct.end();
  await proxy.close();
});

interface Post {
  id: string;
  body: string;
}

function body(item: string, version: number): string {
  return JSON.stringify(itemEvent("item.updated", { id: item, version, name: `Item ${item}`, value: version / 2 }));
}

/**
 * 1,000 posts: 650 distinct ids, 300 re-sends of one of them with the same
 * payload (30% duplicates) and 50 with another payload (5% conflicts), in a
 * seeded random order, so a re-send may come before its original.
 */
function workload(seed: number): Post[] {
  const random = seededRandom(seed);
  const distinct = Array.from({ length: 650 }, (_, i) => ({ id: `evt-${i}`, body: body(`item-${i % 61}`, i + 1) }));
  const pick = () => distinct[Math.floor(random() * distinct.length)] as Post;
  const duplicates = Array.from({ length: 300 }, () => ({ ...pick() }));
  const conflicts = Array.from({ length: 50 }, () => {
    const original = pick();
    return { id: original.id, body: body("elsewhere", 1_000_000 + Math.floor(random() * 1_000)) };
  });
  return shuffled([...distinct, ...duplicates, ...conflicts], random);
}

/** The one-at-a-time answers, as a model: the first delivery of an id is accepted; later ones compare with what was stored. */
function oneAtATime(posts: readonly { id: string; hash: string }[], alreadyStored: ReadonlyMap<string, string> = new Map()): StoreOutcome[] {
  const stored = new Map(alreadyStored);
  return posts.map(({ id, hash }) => {
    const existing = stored.get(id);
    if (existing === undefined) {
      stored.set(id, hash);
      return "accepted";
    }
    return existing === hash ? "duplicate" : "conflict";
  });
}

const validEvent = (post: Post) => parseEvent(post.id, JSON.parse(post.body));
const hashOf = (post: Post) => validEvent(post).payloadHash.toString("hex");

async function storedPayloads(tenantId: number): Promise<Map<string, unknown>> {
  const { rows } = await direct.query<{ event_id: string; payload: unknown }>("SELECT event_id, payload FROM events WHERE tenant_id = $1", [tenantId]);
  return new Map(rows.map((row) => [row.event_id, row.payload]));
}

describe("grouped answers = one-at-a-time answers", () => {
  it("1,000 posts with 30% duplicates and 5% conflicts, some already stored: the same answers, in order, as the model and as one INSERT per event", async () => {
    const posts = workload(20261202);
    const grouped = await createTestTenant();
    const single = await createTestTenant();
    // 40 ids are stored before: re-sends of those meet a stored row, not one of their group.
    const before = posts.filter((post, i) => posts.findIndex((other) => other.id === post.id) === i).slice(0, 40);
    for (const tenant of [grouped, single]) await storeEvents(tenant.id, before.map(validEvent));
    const storedBefore = new Map(before.map((post) => [post.id, hashOf(post)]));

    // One group commits at a time, so arrival order is commit order; 5 ms lets all 1,000 join groups of up to 200.
    const committer = new GroupCommitter({ maxWaitMs: 5, maxEvents: 200, maxInFlight: 1 });
    const groupedAnswers = await Promise.all(posts.map((post) => committer.store(grouped.id, validEvent(post))));
    const singleAnswers: StoreOutcome[] = [];
    for (const post of posts) singleAnswers.push(...(await storeEvents(single.id, [validEvent(post)])));

    const model = oneAtATime(
      posts.map((post) => ({ id: post.id, hash: hashOf(post) })),
      storedBefore,
    );
    expect(groupedAnswers).toEqual(model);
    expect(singleAnswers).toEqual(model);
    // It really was grouped: 1,000 events in a handful of commits.
    expect(committer.stats).toMatchObject({ events: 1_000, largestGroup: 200, splits: 0 });
    expect(committer.stats.groups).toBe(5);
    // And stored the same rows, each with the payload of the delivery that was accepted.
    expect(await storedPayloads(grouped.id)).toEqual(await storedPayloads(single.id));
    expect(model.filter((answer) => answer === "accepted")).toHaveLength(650 - 40);
    expect(model.filter((answer) => answer === "conflict").length).toBeGreaterThan(0);
  });

  it("two requests with the same id in one group: the first is accepted, the second is a duplicate or a conflict by its payload", async () => {
    const tenant = await createTestTenant();
    const committer = new GroupCommitter({ maxWaitMs: 50, maxEvents: 10, maxInFlight: 1 });
    const a = { id: "same-1", body: body("a", 1) };
    const b = { id: "same-2", body: body("b", 1) };
    const answers = await Promise.all([
      committer.store(tenant.id, validEvent(a)),
      committer.store(tenant.id, validEvent(b)),
      committer.store(tenant.id, validEvent(a)),
      committer.store(tenant.id, validEvent({ id: b.id, body: body("b", 2) })),
    ]);
    expect(answers).toEqual(["accepted", "accepted", "duplicate", "conflict"]);
    expect(committer.stats).toMatchObject({ groups: 1, largestGroup: 4 });
    expect((await storedPayloads(tenant.id)).get("same-2")).toEqual(JSON.parse(b.body));
  });
});

describe.each(WEBHOOK_SERVERS)("over HTTP ($name)", ({ start }) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => server.close());

  it("1,000 concurrent posts over 50 connections, 30% duplicates and 5% conflicts: each id accepted once, every other delivery answered by its payload", async () => {
    const tenant = await createTestTenant({ ratePerSecond: 1_000_000, burst: 1_000_000 });
    const url = `${server.url}/api/webhooks/${tenant.slug}`;
    const posts = workload(7);
    const statsBefore = { ...groupCommitter().stats };
    const client = keepAliveClient(50);
    const replies = await mapConcurrent(posts, 50, (post) =>
      client.post(url, signedHeaders(tenant.secret, post.id, Math.floor(Date.now() / 1000), post.body), post.body),
    );
    client.close();

    // Concurrent posts have no order but the one the server gave them: the answers must be the model's for the
    // order in which each id's deliveries were decided, i.e. one 202 per id, and 200 or 409 by the accepted payload.
    const stored = await storedPayloads(tenant.id);
    const byId = new Map<string, { post: Post; reply: Reply }[]>();
    posts.forEach((post, i) => byId.set(post.id, [...(byId.get(post.id) ?? []), { post, reply: replies[i] as Reply }]));
    expect(byId.size).toBe(650);
    expect(stored.size).toBe(650);
    for (const [id, deliveries] of byId) {
      const accepted = deliveries.filter((delivery) => delivery.reply.status === 202);
      expect(accepted, id).toHaveLength(1);
      const winner = (accepted[0] as { post: Post }).post;
      expect(stored.get(id)).toEqual(JSON.parse(winner.body));
      for (const { post, reply } of deliveries.filter((delivery) => delivery.reply.status !== 202)) {
        expect(reply.status, id).toBe(hashOf(post) === hashOf(winner) ? 200 : 409);
      }
    }
    // Posts shared commits.
    const stats = groupCommitter().stats;
    expect(stats.events - statsBefore.events).toBe(1_000);
    expect(stats.groups - statsBefore.groups).toBeLessThan(500);
  });

  it("a row the database refuses fails only its own request; the rest of its group is accepted and stored", async () => {
    const tenant = await createTestTenant({ ratePerSecond: 1_000_000, burst: 1_000_000 });
    const constraint = `poison_${tenant.id}`;
    // A row the schema accepts but the database refuses (its own test database, so nobody else meets it).
    await direct.query(`ALTER TABLE events ADD CONSTRAINT ${constraint} CHECK (tenant_id <> ${tenant.id} OR item_id <> 'poison')`);
    try {
      const url = `${server.url}/api/webhooks/${tenant.slug}`;
      const posts = Array.from({ length: 30 }, (_, i) => ({ id: newEventId(), body: body(i === 17 ? "poison" : `fine-${i}`, 1) }));
      const splitsBefore = groupCommitter().stats.splits;
      const client = keepAliveClient(30);
      const replies = await Promise.all(
        posts.map((post) => client.post(url, signedHeaders(tenant.secret, post.id, Math.floor(Date.now() / 1000), post.body), post.body)),
      );
      client.close();
      expect(replies.map((reply) => reply.status)).toEqual(posts.map((_, i) => (i === 17 ? 500 : 202)));
      expect(JSON.parse((replies[17] as Reply).body)).toEqual({ error: { code: "internal", message: "internal error", requestId: expect.any(String) } });
      const stored = await storedPayloads(tenant.id);
      expect([...stored.keys()].sort()).toEqual(
        posts
          .filter((_, i) => i !== 17)
          .map((post) => post.id)
          .sort(),
      );
      // They did share a group, which was stored again event by event.
      expect(groupCommitter().stats.splits).toBeGreaterThan(splitsBefore);
    } finally {
      await direct.query(`ALTER TABLE events DROP CONSTRAINT ${constraint}`);
    }
  });

  it("the database cut while a group's INSERT is in flight: every post of the group gets 503, none acknowledged is lost, and all are taken when sent again", async () => {
    const tenant = await createTestTenant({ ratePerSecond: 1_000_000, burst: 1_000_000 });
    const url = `${server.url}/api/webhooks/${tenant.slug}`;
    const posts = Array.from({ length: 20 }, (_, i) => ({ id: i === 0 ? `blocked-${newEventId()}` : newEventId(), body: body(`cut-${i}`, 1) }));
    const warm = { id: newEventId(), body: body("warm", 1) };
    const send = (client: ReturnType<typeof keepAliveClient>, post: Post) =>
      client.post(url, signedHeaders(tenant.secret, post.id, Math.floor(Date.now() / 1000), post.body), post.body);

    const client = keepAliveClient(20);
    expect((await send(client, warm)).status).toBe(202); // the tenant is cached: the group's INSERT is what meets the cut

    // An uncommitted row with the first post's id holds the group's INSERT on its unique-index entry: in flight, for sure.
    const blocker = new pg.Client({ connectionString: directUrl });
    await blocker.connect();
    await blocker.query("BEGIN");
    await blocker.query(
      `INSERT INTO events (tenant_id, event_id, type, item_id, version, payload, payload_hash, source_timestamp)
       VALUES ($1, $2, 'item.updated', 'x', 1, '{}', '\\x00', now())`,
      [tenant.id, posts[0]?.id],
    );
    const answered = Promise.all(posts.map((post) => send(client, post)));
    const deadline = Date.now() + 20_000;
    for (;;) {
      const { rows } = await direct.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO events%'",
      );
      if ((rows[0]?.n ?? 0) > 0) break;
      if (Date.now() > deadline) throw new Error("the group's INSERT never waited on the blocker");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await proxy.cut();
    const replies = await answered;
    await blocker.query("ROLLBACK");
    await blocker.end();

    for (const reply of replies) {
      expect(reply.status).toBe(503);
      expect(Number(reply.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(reply.body)).toEqual({ error: { code: "unavailable", message: expect.any(String) } });
    }
    await proxy.restore();

    // Nothing was acknowledged; sent again, each is taken (or found already committed), never lost, never a conflict.
    const again = await Promise.all(posts.map((post) => send(client, post)));
    client.close();
    for (const reply of again) expect([200, 202]).toContain(reply.status);
    const stored = await storedPayloads(tenant.id);
    for (const post of [warm, ...posts]) expect(stored.get(post.id), post.id).toEqual(JSON.parse(post.body));
  });
});
