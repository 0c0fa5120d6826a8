/**
 * Each explanation against the state it names, created for real: claims by
 * the real scheduler (tidemark_claim), batches applied and given back by the
 * real worker code, refusals by the real webhook handler and its Redis
 * limiter, a thin event's fetch from a real (local) item API. Each test ends
 * with a control: the state changed by the same real means, and the
 * explanation must change with it (so a wording that ignores the state fails).
 */
import { hostname } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { setSource } from "../collector/sources.ts";
import { flushWebhookAnswers } from "../ingest/webhook-answers.ts";
import { applyClaim, processClaim } from "../worker/process.ts";
import { reapExpiredLeases } from "../worker/reaper.ts";
import { claimNext, type Claim } from "../worker/scheduler.ts";
import { event, storeInInbox, type TestEvent } from "../../test/events.ts";
import { startItemApi } from "../../test/item-api.ts";
import { waitFor } from "../../test/worker.ts";
import { createTestTenant, itemEvent, postSigned, serveWebhooks } from "../../test/webhooks.ts";
import type { TEventBody } from "../core/event.ts";
import { explainEventById, explainItem } from "./service.ts";

const settings = { maxAttempts: 5 };
const thisWorker = `${hostname()}:${process.pid}`;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  // claimNext serves every tenant: each test starts with none left over.
  await pool.query("DROP TRIGGER IF EXISTS fail_items ON items");
  await pool.query("DELETE FROM tenants");
});

/** Events e-01 … e-n of items i-01 … (one each), stored through the ingestion insert (which inserts in event-id order, hence the padding). */
async function storeMany(tenantId: number, n: number): Promise<void> {
  await storeInInbox(
    tenantId,
    Array.from({ length: n }, (_, i) => event(`e-${String(i + 1).padStart(2, "0")}`, "item.created", `i-${i + 1}`, 1)),
  );
}

async function claim(batch: number): Promise<Claim> {
  const claimed = await claimNext({ quantum: batch, maxBatch: batch, leaseMs: 30_000 });
  expect(claimed).not.toBeNull();
  return claimed as Claim;
}

async function reasonsOf(tenantId: number, eventId: string) {
  const explanation = await explainEventById(tenantId, eventId, settings);
  return explanation?.reasons ?? [];
}

/** Makes every write of an item raise `sqlstate` (40001 is transient to the worker, P0001 is not). */
async function failItemWrites(sqlstate: string): Promise<void> {
  await pool.query(`
    CREATE OR REPLACE FUNCTION fail_items() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'test hook: item % refused', NEW.item_id USING ERRCODE = '${sqlstate}'; END $$`);
  await pool.query("DROP TRIGGER IF EXISTS fail_items ON items");
  await pool.query("CREATE TRIGGER fail_items BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION fail_items()");
}

describe("why an event waits", () => {
  it("behind its tenant's older events: the count is the claim's, and falls as a real claim takes some", async () => {
    // A cap of 2, so that one claim in flight leaves the backlog, not the cap, as the reason.
    const tenant = await createTestTenant({ maxConcurrency: 2 });
    await storeMany(tenant.id, 30);
    expect(await reasonsOf(tenant.id, "e-21")).toEqual([
      { code: "behind-tenant-backlog", text: "behind 20 older events of this tenant: each tenant's events are taken oldest first" },
    ]);
    // Control: the claim takes the 10 oldest, so 10 are ahead now (and e-1 is in flight, not behind anything).
    await claim(10);
    expect((await reasonsOf(tenant.id, "e-21"))[0]?.text).toBe("behind 10 older events of this tenant: each tenant's events are taken oldest first");
    expect((await reasonsOf(tenant.id, "e-01"))[0]?.code).toBe("in-flight");
  });

  it("tenant over its max concurrency: two real claims in flight hold back the rest; one applied, it is back to its backlog", async () => {
    const tenant = await createTestTenant({ maxConcurrency: 2 });
    await storeMany(tenant.id, 30);
    const first = await claim(5);
    await claim(5);
    expect(await claimNext({ quantum: 5, maxBatch: 5, leaseMs: 30_000 })).toBeNull();
    expect((await reasonsOf(tenant.id, "e-20"))[0]).toEqual({
      code: "tenant-at-max-concurrency",
      text: "tenant at its max concurrency (2 batches in flight, max 2): it gets no new claim until one finishes",
    });
    // Control: one batch applied, one in flight: below the cap, the reason is the backlog again.
    await applyClaim(first);
    expect((await reasonsOf(tenant.id, "e-20"))[0]?.code).toBe("behind-tenant-backlog");
  });

  it("lease held by worker X until …: the claim's own lease; expired and reaped, it is pending again", async () => {
    const tenant = await createTestTenant();
    await storeMany(tenant.id, 3);
    const claimed = await claimNext({ quantum: 3, maxBatch: 3, leaseMs: 2_000 });
    expect(claimed?.tenantIds).toEqual([tenant.id]);
    const { rows } = await pool.query<{ lease_until: Date }>(
      "SELECT c.lease_until FROM claims c JOIN events e ON e.id = ANY(c.event_ids) AND e.tenant_id = c.tenant_id WHERE e.tenant_id = $1 AND e.event_id = 'e-02'",
      [tenant.id],
    );
    const until = (rows[0] as { lease_until: Date }).lease_until.toISOString().slice(11, 19);
    const [reason] = await reasonsOf(tenant.id, "e-02");
    expect(reason?.code).toBe("in-flight");
    expect(reason?.text).toMatch(
      new RegExp(`^being applied: lease held by worker ${thisWorker.replace(/[.]/g, "\\.")} until ${until} UTC, in [12] s \\(attempt 1 of 5\\)$`),
    );
    // Control: the worker "stalls" past its lease (nothing applies the claim): the explanation says so, and once reaped it is pending.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect((await reasonsOf(tenant.id, "e-02"))[0]?.code).toBe("lease-expired");
    expect(await reapExpiredLeases()).toBe(3);
    expect((await reasonsOf(tenant.id, "e-02"))[0]).toEqual({
      code: "behind-tenant-backlog",
      text: "behind 1 older event of this tenant: each tenant's events are taken oldest first",
    });
  });

  it("retrying after a transient error, no attempt spent (next try at …): a real apply failing with 40001; the control fails with P0001", async () => {
    const tenant = await createTestTenant();
    await failItemWrites("40001");
    await storeInInbox(tenant.id, [event("t-1", "item.created", "a", 1)]);
    await processClaim(await claim(1), { maxAttempts: settings.maxAttempts, transientRetries: 3, random: () => 0.999 });
    const { rows } = await pool.query<{ available_at: Date }>("SELECT available_at FROM events WHERE tenant_id = $1", [tenant.id]);
    const nextTry = (rows[0] as { available_at: Date }).available_at.toISOString().slice(11, 19);
    const [reason] = await reasonsOf(tenant.id, "t-1");
    expect(reason?.code).toBe("retrying-transient");
    expect(reason?.text).toMatch(
      new RegExp(`^retrying after a transient error \\(next try at ${nextTry} UTC, in \\d s\\); transient errors spend no attempt \\(0 of 5 used\\)`),
    );
    expect(reason?.text).toContain("transient error (40001): test hook: item a refused");

    // Control: the same hook with a non-transient SQLSTATE is a failure that uses up an attempt, told apart.
    await failItemWrites("P0001");
    await storeInInbox(tenant.id, [event("t-2", "item.created", "b", 1)]);
    await pool.query("UPDATE events SET available_at = now() + interval '1 hour' WHERE event_id = 't-1'");
    await processClaim(await claim(1), { maxAttempts: settings.maxAttempts, transientRetries: 3, random: () => 0.999 });
    const [failed] = await reasonsOf(tenant.id, "t-2");
    expect(failed?.code).toBe("retrying-failed");
    expect(failed?.text).toMatch(
      /^retrying after an error, attempt 1 of 5 \(next try at .* UTC, in \d s; 4 attempts left before it is dead\): test hook: item b refused$/,
    );
  });

  it("tenant rate-limited at the edge: the real webhook handler refuses with 429 and the count is the rollups'; an unlimited tenant has no such note", async () => {
    const server = await serveWebhooks();
    cleanups.push(() => server.close());
    const limited = await createTestTenant({ ratePerSecond: 0.01, burst: 1 });
    const statuses: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const body = JSON.stringify(itemEvent("item.created", { id: `r-${i}`, version: 1 }));
      statuses.push((await postSigned({ url: `${server.url}/api/webhooks/${limited.slug}`, secret: limited.secret, body, id: `r-${i}` })).status);
    }
    expect(statuses).toEqual([202, 429, 429, 429, 429]);
    await flushWebhookAnswers();
    const reasons = await reasonsOf(limited.id, "r-1");
    expect(reasons.map((r) => r.code)).toEqual(["next-in-line", "refused-at-edge"]);
    expect(reasons[1]?.text).toMatch(/^tenant rate-limited at the edge: 4 deliveries refused/);

    // Control: a tenant whose deliveries all pass gets no such note.
    const open = await createTestTenant({ ratePerSecond: 1_000, burst: 1_000 });
    const body = JSON.stringify(itemEvent("item.created", { id: "o-1", version: 1 }));
    expect((await postSigned({ url: `${server.url}/api/webhooks/${open.slug}`, secret: open.secret, body, id: "o-1" })).status).toBe(202);
    await flushWebhookAnswers();
    expect((await reasonsOf(open.id, "o-1")).map((r) => r.code)).not.toContain("refused-at-edge");
  });

  it("thin event waiting for its fetch: claimed, while the item API is slow to answer; a full event in flight is being applied", async () => {
    const api = await startItemApi({ latencyMs: 4_000 });
    cleanups.push(() => api.close());
    const tenant = await createTestTenant();
    await setSource(tenant, { url: api.feedUrl, itemUrl: api.itemUrl });
    api.set({ id: "thin-1", version: 1, name: "fetched" });
    const thinEvent: TestEvent = {
      eventId: "th-1",
      body: { type: "item.created", thin: true, timestamp: "2026-11-27T10:00:00Z", data: { id: "thin-1", version: 1 } } as unknown as TEventBody,
    };
    await storeInInbox(tenant.id, [thinEvent]);
    expect((await reasonsOf(tenant.id, "th-1")).map((r) => r.code)).toEqual(["next-in-line", "thin-fetch-next"]);

    const processing = processClaim(await claim(1), { maxAttempts: settings.maxAttempts, transientRetries: 3, random: () => 0.5 });
    await waitFor(async () => api.fetches.length > 0, 5_000);
    const [fetching] = await reasonsOf(tenant.id, "th-1");
    expect(fetching?.code).toBe("thin-fetching");
    expect(fetching?.text).toMatch(
      new RegExp(`^thin event waiting for its fetch from the tenant's item API: lease held by worker ${thisWorker.replace(/[.]/g, "\\.")} until `),
    );
    await processing;
    // Applied: it no longer waits, and the item page has nothing to explain.
    expect(await explainEventById(tenant.id, "th-1", settings)).toBeNull();
    expect(await explainItem(tenant.id, "thin-1", settings)).toEqual([]);

    // Control: a full event claimed the same way is "being applied", not waiting for a fetch.
    await storeInInbox(tenant.id, [event("full-1", "item.created", "full", 1)]);
    await claim(1);
    expect((await reasonsOf(tenant.id, "full-1"))[0]?.code).toBe("in-flight");
  });

  it("waiting for its tenant's turn: another tenant earlier in the ring has due work; once it is served, next in line", async () => {
    const ahead = await createTestTenant();
    const behind = await createTestTenant();
    await storeInInbox(ahead.id, [event("a-1", "item.created", "a", 1)]);
    await storeInInbox(behind.id, [event("b-1", "item.created", "b", 1)]);
    expect((await reasonsOf(behind.id, "b-1"))[0]).toEqual({
      code: "waiting-for-turn",
      text: "waiting for its tenant's turn: 1 other tenant with work is ahead in the fair-share ring",
    });
    // Control: serve the tenant ahead alone (a claim of one event takes its turn) and apply it.
    const served = await claim(1);
    expect(served.tenantIds).toEqual([ahead.id]);
    await applyClaim(served);
    expect((await reasonsOf(behind.id, "b-1"))[0]?.code).toBe("next-in-line");
  });

  it("the item page's list: every waiting event of the item, oldest first, each with its reason", async () => {
    const tenant = await createTestTenant({ maxConcurrency: 2 }); // as above: the backlog, not the cap, holds them
    await storeInInbox(tenant.id, [
      event("a-1", "item.created", "shared", 1),
      event("b-1", "item.created", "other", 1),
      event("c-2", "item.updated", "shared", 2),
    ]);
    await claim(1);
    const explained = await explainItem(tenant.id, "shared", settings);
    expect(explained.map((e) => [e.eventId, e.status, e.reasons[0]?.code])).toEqual([
      ["a-1", "processing", "in-flight"],
      ["c-2", "pending", "behind-tenant-backlog"],
    ]);
    expect(explained[1]?.reasons[0]?.text).toBe("behind 1 older event of this tenant: each tenant's events are taken oldest first");
  });
});
