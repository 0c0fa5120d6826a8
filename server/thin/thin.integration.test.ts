/**
 * Thin events end to end on the real database and Redis: sent through the
 * webhooks (single and batch) or pulled by the collector, resolved by the
 * real worker through the shared item cache against a tenant's item API.
 * The item API is a local HTTP server (test/item-api.ts): it stands outside
 * Tidemark, as a tenant's system does, and counts every fetch by the version
 * it served.
 *
 * One test per rule: a burst costs at most 2 fetches per item per version
 * served and ends in the API's latest state; an API that is down for a while
 * costs retries, then everything applies; a cached state older than the
 * event is never used (with its control); an answer older than the event is
 * retried; 404 is a delete at the event's version; the last failed attempt
 * is dead and replays; a tenant without an item API; the collector's path.
 */
import { afterEach, describe, expect, it } from "vitest";
import { setSource } from "../collector/sources.ts";
import { Collector } from "../collector/collector.ts";
import { pool } from "../db.ts";
import { replayDead } from "../worker/dead-letters.ts";
import { applyClaim, giveBack, processClaim } from "../worker/process.ts";
import { claimNext } from "../worker/scheduler.ts";
import { resolveClaim } from "../worker/thin.ts";
import { Worker } from "../worker/worker.ts";
import { TEST_COLLECTOR } from "../../test/collector.ts";
import { readItems, storeInInbox, type TestEvent } from "../../test/events.ts";
import { keepAliveClient } from "../../test/http-client.ts";
import { startItemApi, type ItemApiState, type TestItemApi } from "../../test/item-api.ts";
import { TEST_WORKER, processAll, unfinishedEvents, waitFor } from "../../test/worker.ts";
import { createTestTenant, newEventId, serveFastPath, serveWebhooks, signedHeaders } from "../../test/webhooks.ts";
import type { TEventBody } from "../core/event.ts";

const TIMESTAMP = "2026-11-27T10:00:00Z";
const TOKEN = "item-api-token-7";
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function itemApi(options: { token?: string; latencyMs?: number } = {}): Promise<TestItemApi> {
  const api = await startItemApi(options);
  cleanups.push(() => api.close());
  return api;
}

/** A tenant (never rate-limited) whose source's item API is `api`. */
async function tenantWithItemApi(api: TestItemApi, token: string | undefined = TOKEN) {
  const tenant = await createTestTenant({ ratePerSecond: 1_000_000, burst: 10_000_000 });
  await setSource(tenant, { url: api.feedUrl, itemUrl: api.itemUrl, token });
  return tenant;
}

function stateOf(itemId: string, version: number): ItemApiState {
  return { id: itemId, version, name: `${itemId} v${version}`, category: `c${version % 3}`, value: version * 1.5, refs: version > 1 ? [`ref-${version}`] : [] };
}

function thin(type: "item.created" | "item.updated", itemId: string, version: number) {
  return { type, thin: true, timestamp: TIMESTAMP, data: { id: itemId, version } };
}

function thinEvent(eventId: string, type: "item.created" | "item.updated", itemId: string, version: number): TestEvent {
  return { eventId, body: thin(type, itemId, version) as unknown as TEventBody };
}

/** The item as stored, in the shape of the API's state. */
async function storedItem(tenantId: number, itemId: string) {
  const item = (await readItems(tenantId)).get(itemId);
  if (!item) return undefined;
  return { id: item.itemId, version: item.version, deleted: item.deleted, name: item.name, category: item.category, value: item.value, refs: item.refs };
}

const live = (state: ItemApiState) => ({ ...state, deleted: false, refs: [...(state.refs ?? [])].sort() });

async function eventRows(tenantId: number) {
  const { rows } = await pool.query<{ event_id: string; status: string; outcome: string | null; attempts: number; last_error: string | null }>(
    "SELECT event_id, status, outcome, attempts, last_error FROM events WHERE tenant_id = $1 ORDER BY id",
    [tenantId],
  );
  return rows;
}

function startWorker(options: Partial<ConstructorParameters<typeof Worker>[0]> = {}): Worker {
  const worker = new Worker({ ...TEST_WORKER, ...options });
  cleanups.push(() => worker.stop(5_000));
  return worker;
}

const settings = { quantum: 100, maxBatch: 100, leaseMs: 30_000 };
const policy = { maxAttempts: 5, transientRetries: 3, random: () => 0 };

describe("thin events", () => {
  it("1,000 thin events for 10 items sent concurrently to the webhooks while the items change: at most 2 fetches per item per version served, ending in the API's latest state", async () => {
    const api = await itemApi({ token: TOKEN, latencyMs: 5 });
    const tenant = await tenantWithItemApi(api);
    const server = await serveFastPath();
    cleanups.push(() => server.close());
    const client = keepAliveClient(50);
    cleanups.push(async () => client.close());
    const worker = startWorker({ maxAttempts: 5 });
    await worker.start();

    const items = Array.from({ length: 10 }, (_, i) => `hot-${i}`);
    const VERSIONS = 100;
    const url = `${server.url}/api/webhooks/${tenant.slug}`;
    const statuses: number[] = [];
    // Each item's sender changes the item in the API, then sends its thin event (as a tenant's system
    // would), up to 10 of its events in flight at once: 100 concurrent posts, arriving out of order.
    await Promise.all(
      items.map(async (itemId) => {
        const inFlight = new Set<Promise<void>>();
        for (let version = 1; version <= VERSIONS; version++) {
          api.set(stateOf(itemId, version));
          const body = JSON.stringify(thin(version === 1 ? "item.created" : "item.updated", itemId, version));
          const id = newEventId();
          const post = client.post(url, signedHeaders(tenant.secret, id, Math.floor(Date.now() / 1000), body), body).then((reply) => {
            statuses.push(reply.status);
            inFlight.delete(post);
          });
          inFlight.add(post);
          if (inFlight.size >= 10) await Promise.race(inFlight);
        }
        await Promise.all(inFlight);
      }),
    );
    expect(statuses).toHaveLength(1_000);
    expect(new Set(statuses)).toEqual(new Set([202]));
    await waitFor(async () => (await unfinishedEvents()) === 0);

    const rows = await eventRows(tenant.id);
    expect(rows).toHaveLength(1_000);
    for (const row of rows) expect(row).toMatchObject({ status: "done", outcome: expect.stringMatching(/^(applied|stale|duplicate)$/) });
    for (const itemId of items) expect(await storedItem(tenant.id, itemId)).toEqual(live(stateOf(itemId, VERSIONS)));

    const perVersion = api.fetchesPerVersion();
    const most = Math.max(...perVersion.values());
    const served = [...perVersion.values()].reduce((sum, n) => sum + n, 0);
    console.log(
      `thin burst: 1,000 events for 10 items → ${api.fetches.length} fetches (${served} served a state, ${perVersion.size} distinct item versions), at most ${most} per item per version; outcomes ${JSON.stringify(
        Object.fromEntries(["applied", "stale", "duplicate"].map((o) => [o, rows.filter((row) => row.outcome === o).length])),
      )}`,
    );
    expect(most).toBeLessThanOrEqual(2);
    expect(api.fetches.every((fetch) => fetch.authorized && fetch.status === 200)).toBe(true);
    // The cache did the work: far fewer fetches than events.
    expect(api.fetches.length).toBeLessThan(1_000);
  });

  it("an item API down for a while: the thin events of a batch are retried with backoff, then all apply, nothing lost", async () => {
    const api = await itemApi();
    const tenant = await tenantWithItemApi(api, undefined);
    const server = await serveWebhooks();
    cleanups.push(() => server.close());
    const items = Array.from({ length: 10 }, (_, i) => `down-${i}`);
    for (const itemId of items) api.set(stateOf(itemId, 5));
    api.down = true;

    const events = items.flatMap((itemId) => Array.from({ length: 20 }, (_, k) => ({ id: `${itemId}-e${k}`, ...thin("item.updated", itemId, 1 + (k % 5)) })));
    const body = JSON.stringify({ events });
    const reply = await fetch(`${server.url}/api/webhooks/${tenant.slug}/batch`, {
      method: "POST",
      headers: signedHeaders(tenant.secret, newEventId(), Math.floor(Date.now() / 1000), body),
      body,
    });
    expect(reply.status).toBe(202);

    // Backoff: random 0.25 × 1 s × 2^attempts, so retries come 0.5 s, 1 s, 2 s … after each failure.
    const worker = startWorker({ maxAttempts: 8, random: () => 0.25 });
    await worker.start();
    await waitFor(async () => (await eventRows(tenant.id)).every((row) => row.attempts >= 2 && /HTTP 503/.test(row.last_error ?? "")), 30_000);
    const failedFetches = api.fetches.filter((fetch) => fetch.status === 503).length;
    api.down = false;
    await waitFor(async () => (await unfinishedEvents()) === 0, 30_000);

    const rows = await eventRows(tenant.id);
    expect(rows).toHaveLength(200);
    for (const row of rows) expect(row).toMatchObject({ status: "done", outcome: expect.stringMatching(/^(applied|stale|duplicate)$/) });
    for (const itemId of items) expect(await storedItem(tenant.id, itemId)).toEqual(live(stateOf(itemId, 5)));
    const attempts = rows.map((row) => row.attempts);
    console.log(
      `item API down: ${failedFetches} failed fetches for 200 events while down, attempts per event ${Math.min(...attempts)}–${Math.max(...attempts)}, then ${api.fetches.filter((fetch) => fetch.status === 200).length} good fetches`,
    );
    // While down, one fetch per item per attempt round, never one per event.
    expect(failedFetches).toBeLessThan(200);
    expect(Math.max(...api.fetchesPerVersion().values())).toBeLessThanOrEqual(2);
  });

  it("a cached state older than the event is not used for it: the event fetches the newer one and applies on its first attempt", async () => {
    const api = await itemApi({ token: TOKEN });
    const tenant = await tenantWithItemApi(api);
    api.set(stateOf("a", 1));
    await storeInInbox(tenant.id, [thinEvent("a-1", "item.created", "a", 1)]);
    await processAll();
    expect(await storedItem(tenant.id, "a")).toEqual(live(stateOf("a", 1)));

    api.set(stateOf("a", 2));
    await storeInInbox(tenant.id, [thinEvent("a-2", "item.updated", "a", 2)]);
    const claim = (await claimNext(settings)) as NonNullable<Awaited<ReturnType<typeof claimNext>>>;
    const resolution = await resolveClaim(claim);
    expect(resolution.failures.size).toBe(0);
    await applyClaim(claim, resolution.payloads);

    expect(await storedItem(tenant.id, "a")).toEqual(live(stateOf("a", 2)));
    expect((await eventRows(tenant.id)).at(-1)).toMatchObject({ event_id: "a-2", outcome: "applied", attempts: 1 });
    expect([...api.fetchesPerVersion()]).toEqual([
      ["a@1", 1],
      ["a@2", 1],
    ]);
  });

  it("control: without the accept rule the cached older state is what the event gets (so the test above can fail)", async () => {
    const api = await itemApi({ token: TOKEN });
    const tenant = await tenantWithItemApi(api);
    api.set(stateOf("b", 1));
    await storeInInbox(tenant.id, [thinEvent("b-1", "item.created", "b", 1)]);
    await processAll();

    api.set(stateOf("b", 2));
    await storeInInbox(tenant.id, [thinEvent("b-2", "item.updated", "b", 2)]);
    const claim = (await claimNext(settings)) as NonNullable<Awaited<ReturnType<typeof claimNext>>>;
    const resolution = await resolveClaim(claim, { accept: () => true });
    // The cached version 1 was served, and no fetch was made for version 2.
    expect([...resolution.failures.values()]).toEqual([expect.stringMatching(/answered version 1, older than the event's 2/)]);
    expect([...api.fetchesPerVersion()]).toEqual([["b@1", 1]]);
    await giveBack(claim, "control test done", 0);
  });

  it("an answer older than the event is not applied: the event is retried, and applies once the API has its version", async () => {
    const api = await itemApi({ token: TOKEN });
    const tenant = await tenantWithItemApi(api);
    api.set(stateOf("c", 1));
    await storeInInbox(tenant.id, [thinEvent("c-3", "item.updated", "c", 3)]);
    await processClaim((await claimNext(settings)) as NonNullable<Awaited<ReturnType<typeof claimNext>>>, policy);
    expect(await eventRows(tenant.id)).toEqual([
      { event_id: "c-3", status: "pending", outcome: null, attempts: 1, last_error: "thin event: the item API answered version 1, older than the event's 3" },
    ]);
    expect(await storedItem(tenant.id, "c")).toBeUndefined();

    api.set(stateOf("c", 4));
    await processAll();
    expect(await storedItem(tenant.id, "c")).toEqual(live(stateOf("c", 4)));
    expect(await eventRows(tenant.id)).toEqual([expect.objectContaining({ status: "done", outcome: "applied", attempts: 2 })]);
  });

  it("404: the item is deleted at the event's version, a tombstone that an older thin event then finds", async () => {
    const api = await itemApi({ token: TOKEN });
    const tenant = await tenantWithItemApi(api);
    api.set(stateOf("d", 1));
    await storeInInbox(tenant.id, [thinEvent("d-1", "item.created", "d", 1)]);
    await processAll();
    expect(await storedItem(tenant.id, "d")).toEqual(live(stateOf("d", 1)));

    api.remove("d");
    await storeInInbox(tenant.id, [thinEvent("d-4", "item.updated", "d", 4)]);
    await processAll();
    expect(await storedItem(tenant.id, "d")).toEqual({ id: "d", version: 4, deleted: true, name: null, category: null, value: null, refs: [] });
    // A thin event older than the tombstone is served the cached "gone" (no fetch) and is stale.
    const fetchesBefore = api.fetches.length;
    await storeInInbox(tenant.id, [thinEvent("d-3", "item.updated", "d", 3)]);
    await processAll();
    expect(api.fetches.length).toBe(fetchesBefore);
    expect((await eventRows(tenant.id)).map((row) => [row.event_id, row.outcome])).toEqual([
      ["d-1", "applied"],
      ["d-4", "applied"],
      ["d-3", "stale"],
    ]);
  });

  it("an API that stays down: dead after the last attempt, with the reason; a replay applies it once the API is back", async () => {
    const api = await itemApi({ token: TOKEN });
    const tenant = await tenantWithItemApi(api);
    api.down = true;
    await storeInInbox(tenant.id, [thinEvent("e-1", "item.created", "e", 1)]);
    await processAll({ maxAttempts: 2, random: () => 0 });
    expect(await eventRows(tenant.id)).toEqual([
      { event_id: "e-1", status: "dead", outcome: "dead", attempts: 2, last_error: "thin event: the item API answered HTTP 503 Service Unavailable" },
    ]);

    api.down = false;
    api.set(stateOf("e", 1));
    expect(await replayDead(tenant.id)).toBe(1);
    await processAll();
    expect(await storedItem(tenant.id, "e")).toEqual(live(stateOf("e", 1)));
    expect(await eventRows(tenant.id)).toEqual([expect.objectContaining({ status: "done", outcome: "applied" })]);
  });

  it("a tenant without an item API: its thin events fail with how to set one, and apply on replay after `source set --item-url`", async () => {
    const api = await itemApi();
    const tenant = await createTestTenant();
    api.set(stateOf("f", 2));
    await storeInInbox(tenant.id, [thinEvent("f-2", "item.updated", "f", 2)]);
    await processAll({ maxAttempts: 1 });
    expect(await eventRows(tenant.id)).toEqual([
      expect.objectContaining({ status: "dead", last_error: "thin event, but the tenant has no item API: set one with `source set --item-url`" }),
    ]);
    expect(api.fetches).toEqual([]);

    await setSource(tenant, { url: api.feedUrl, itemUrl: api.itemUrl });
    await replayDead(tenant.id);
    await processAll();
    expect(await storedItem(tenant.id, "f")).toEqual(live(stateOf("f", 2)));
  });

  it("pulled by the collector: a thin event in a page is stored and applied with the fetched state, the source's token sent to the item API", async () => {
    const api = await itemApi({ token: TOKEN });
    const tenant = await tenantWithItemApi(api);
    api.set(stateOf("pulled/item?x#y%20", 3));
    api.setEvents([{ id: "pulled-1", ...thin("item.updated", "pulled/item?x#y%20", 3) }]);
    const collector = new Collector(TEST_COLLECTOR);
    collector.start();
    cleanups.push(() => collector.stop());
    const worker = startWorker();
    await worker.start();
    await waitFor(async () => (await storedItem(tenant.id, "pulled/item?x#y%20"))?.version === 3, 30_000);
    expect(await storedItem(tenant.id, "pulled/item?x#y%20")).toEqual(live(stateOf("pulled/item?x#y%20", 3)));
    expect(api.fetches.map((fetch) => [fetch.itemId, fetch.authorized, fetch.status])).toEqual([["pulled/item?x#y%20", true, 200]]);
  });
});
