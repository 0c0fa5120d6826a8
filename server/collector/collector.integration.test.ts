/**
 * The collector against a simulated upstream, one behaviour per test: a feed
 * pulled to its end stores each event once and commits each page once; the
 * bearer token is sent and never shown; a lost compare-and-set or a stale
 * lease stores nothing; a whale upstream does not starve small ones; the
 * daily quota stops pulling until the next UTC day; pause, resume, a new URL
 * and removal take effect at the next read of the row.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { metrics } from "../metrics.ts";
import { store as sharedStore, type SharedStore } from "../redis.ts";
import { sha256, canonicalJson } from "../lib/canonical-json.ts";
import { startSimServer, type SimServer } from "../sim/upstream.ts";
import { encodeCursor, type FeedSpec } from "../sim/feed.ts";
import { TEST_COLLECTOR, distinctIds, feedEvents, sourceRow, storedEventIds, tenantWithSource } from "../../test/collector.ts";
import { waitFor } from "../../test/worker.ts";
import { Collector, type CollectorOptions } from "./collector.ts";
import { acquireLease, commitPage, releaseLease, renewAndRead } from "./source-state.ts";
import { pauseSource, removeSource, requireSourceStatus, resumeSource, setSource, sourceStatus } from "./sources.ts";

let sim: SimServer;
beforeAll(async () => {
  sim = await startSimServer();
});
afterAll(async () => {
  await sim.close();
});

async function collecting<T>(options: Partial<CollectorOptions>, work: () => Promise<T>): Promise<T> {
  const collector = new Collector({ ...TEST_COLLECTOR, ...options });
  collector.start();
  try {
    return await work();
  } finally {
    await collector.stop();
  }
}

/** Pauses every source but these, so a test's collector takes only its own. */
async function onlySources(...tenantIds: number[]): Promise<void> {
  await pool.query("UPDATE sources SET paused = true WHERE NOT (tenant_id = ANY($1::int[]))", [tenantIds]);
}

describe("collector", () => {
  it("pulls a fixed feed to its end: every event stored once, every page committed once, the cursor at the end", async () => {
    const spec: FeedSpec = { seed: 11, kind: "fixed", total: 1_234 };
    const tenant = await tenantWithSource(sim.feedUrl(spec), { pageSize: 100 });
    await onlySources(tenant.id);
    const expected = distinctIds(feedEvents(spec));
    await collecting({}, () => waitFor(async () => (await sourceRow(tenant.id)).cursor === encodeCursor(spec.total), 30_000));

    expect(await storedEventIds(tenant.id)).toEqual(expected);
    const row = await sourceRow(tenant.id);
    expect(row).toMatchObject({ pages_committed: Math.ceil(spec.total / 100), events_stored: expected.length, has_more: false, consecutive_failures: 0 });
    // Stored as the batch endpoint stores them: normalised, hashed the same way.
    const { rows } = await pool.query<{ event_id: string; payload: unknown; hash: string }>(
      "SELECT event_id, payload, encode(payload_hash, 'hex') AS hash FROM events WHERE tenant_id = $1 LIMIT 20",
      [tenant.id],
    );
    for (const stored of rows) expect(stored.hash).toBe(sha256(canonicalJson(stored.payload)).toString("hex"));

    const status = await requireSourceStatus(tenant);
    expect(Object.keys(status).slice(0, 10)).toEqual([
      "tenant",
      "url",
      "cursor",
      "paused",
      "lastFetchAt",
      "lastSuccessAt",
      "lastError",
      "consecutiveFailures",
      "eventsStored",
      "pagesCommitted",
    ]);
    expect(status).toMatchObject({
      tenant: tenant.slug,
      url: sim.feedUrl(spec),
      cursor: encodeCursor(spec.total),
      paused: false,
      lastError: null,
      consecutiveFailures: 0,
      eventsStored: expected.length,
      pagesCommitted: 13,
    });
    expect(new Date(status.lastSuccessAt as string).toISOString()).toBe(status.lastSuccessAt);
    expect(status.caughtUpAt).not.toBeNull();
  });

  it("a new source's status: cursor and times null before the first page", async () => {
    const tenant = await tenantWithSource(sim.feedUrl({ seed: 1, kind: "fixed", total: 10 }));
    await pauseSource(tenant);
    expect(await requireSourceStatus(tenant)).toMatchObject({
      cursor: null,
      lastFetchAt: null,
      lastSuccessAt: null,
      lastError: null,
      consecutiveFailures: 0,
      eventsStored: 0,
      pagesCommitted: 0,
      paused: true,
    });
  });

  it("sends the bearer token, and the token is never shown back", async () => {
    const guarded = await startSimServer({ token: "s3cret-token_value" });
    try {
      const spec: FeedSpec = { seed: 12, kind: "fixed", total: 120 };
      const tenant = await tenantWithSource(guarded.feedUrl(spec), { token: "s3cret-token_value" });
      await onlySources(tenant.id);
      await collecting({}, () => waitFor(async () => (await sourceRow(tenant.id)).cursor === encodeCursor(spec.total), 20_000));
      expect(guarded.requests.length).toBeGreaterThan(0);
      expect(guarded.requests.every((request) => request.authorized)).toBe(true);
      const status = await requireSourceStatus(tenant);
      expect(status.hasToken).toBe(true);
      expect(JSON.stringify(status)).not.toContain("s3cret");

      // Without the token the upstream refuses, and that is a failure like any other.
      await setSource(tenant, { url: guarded.feedUrl({ seed: 13, kind: "fixed", total: 50 }), token: null });
      await collecting({}, () => waitFor(async () => (await sourceRow(tenant.id)).consecutive_failures > 0, 20_000));
      expect((await requireSourceStatus(tenant)).lastError).toContain("HTTP 401");
    } finally {
      await guarded.close();
    }
  });

  it("a page whose cursor moved on since it was read stores nothing, and neither does a stale lease", async () => {
    const spec: FeedSpec = { seed: 14, kind: "fixed", total: 300 };
    const tenant = await tenantWithSource(sim.feedUrl(spec), { pageSize: 100 });
    await onlySources(tenant.id);
    const event = feedEvents(spec)[0];
    const valid = { eventId: event?.eventId as string, body: event?.body as never, payloadHash: sha256(canonicalJson(event?.body)) };
    const page = { nextCursor: encodeCursor(100), hasMore: true, events: [valid], invalid: [], fetchStartedAt: new Date() };

    const lease = await acquireLease("test-owner", 5_000);
    expect(lease?.tenantId).toBe(tenant.id);
    if (!lease) return;
    const read = await renewAndRead(lease, 5_000);
    if (!read) throw new Error("lease lost");
    // Another commit moves the cursor first (a collector that took over, say).
    expect(await commitPage(lease, read, page, 5_000)).toMatchObject({ committed: true });
    const racing = await commitPage(lease, read, { ...page, nextCursor: encodeCursor(200) }, 5_000);
    expect(racing).toEqual({ committed: false });
    expect(await sourceRow(tenant.id)).toMatchObject({ cursor: encodeCursor(100), pages_committed: 1, events_stored: 1 });

    // A holder whose lease was taken over (its token is old) cannot commit, even on the current version.
    await pool.query("UPDATE sources SET lease_until = now() - interval '1 second' WHERE tenant_id = $1", [tenant.id]);
    const next = await acquireLease("second-owner", 5_000);
    expect(next?.token).toBe(lease.token + 1);
    const current = await renewAndRead(next as never, 5_000);
    const stale = await commitPage(lease, current as never, { ...page, nextCursor: encodeCursor(200) }, 5_000);
    expect(stale).toEqual({ committed: false });
    expect(await renewAndRead(lease, 5_000)).toBeNull();
    expect(await sourceRow(tenant.id)).toMatchObject({ cursor: encodeCursor(100), pages_committed: 1 });
    await releaseLease(next as never);
  });

  it("a collector that stalls after its fetch, past its lease, commits nothing once another took over", async () => {
    const spec: FeedSpec = { seed: 23, kind: "fixed", total: 300 };
    const tenant = await tenantWithSource(sim.feedUrl(spec), { pageSize: 50 });
    await onlySources(tenant.id);
    // The stalled collector's first admission never answers; the limiter fails open after 750 ms,
    // long after its 250 ms lease ran out, and only then does it try to commit its page.
    let calls = 0;
    const stalling: SharedStore = {
      ...sharedStore,
      kind: sharedStore.kind,
      takeTokens: (request) => (++calls === 1 ? new Promise(() => {}) : sharedStore.takeTokens(request)),
    };
    const fast = { fetchTimeoutMs: 100, leaseMs: 250 };
    const lostBefore = (await metrics.collectorLostCommits.get()).values[0]?.value ?? 0;
    const stalled = new Collector({ ...TEST_COLLECTOR, ...fast, store: stalling });
    stalled.start();
    const other = new Collector({ ...TEST_COLLECTOR, ...fast });
    try {
      await waitFor(async () => calls === 1, 10_000);
      other.start();
      await waitFor(async () => (await sourceRow(tenant.id)).cursor === encodeCursor(spec.total), 20_000);
      await waitFor(async () => ((await metrics.collectorLostCommits.get()).values[0]?.value ?? 0) > lostBefore, 5_000);
    } finally {
      await Promise.all([stalled.stop(), other.stop()]);
    }
    expect(await sourceRow(tenant.id)).toMatchObject({ cursor: encodeCursor(spec.total), pages_committed: 6 });
    expect(await storedEventIds(tenant.id)).toEqual(distinctIds(feedEvents(spec)));
  });

  it("a whale upstream does not starve small ones: each small source is caught up while the whale still has pages", async () => {
    const whale = await tenantWithSource(sim.feedUrl({ seed: 15, kind: "fixed", total: 20_000 }), { pageSize: 20 });
    const small: Awaited<ReturnType<typeof tenantWithSource>>[] = [];
    for (let i = 0; i < 3; i++) small.push(await tenantWithSource(sim.feedUrl({ seed: 16 + i, kind: "fixed", total: 30 }), { pageSize: 20 }));
    await onlySources(whale.id, ...small.map((tenant) => tenant.id));
    await collecting({ pagesPerTurn: 2 }, () =>
      waitFor(async () => {
        for (const tenant of small) if ((await sourceRow(tenant.id)).cursor !== encodeCursor(30)) return false;
        return true;
      }, 30_000),
    );
    const whaleRow = await sourceRow(whale.id);
    expect(whaleRow.has_more).toBe(true);
    expect(whaleRow.pages_committed).toBeLessThan(1_000);
    for (const tenant of small) expect((await sourceRow(tenant.id)).pages_committed).toBe(2);
  });

  it("over the daily quota: the page is not stored, the cursor stays, and the source waits for the next UTC day", async () => {
    const spec: FeedSpec = { seed: 20, kind: "fixed", total: 500 };
    const tenant = await tenantWithSource(sim.feedUrl(spec), { pageSize: 100 }, { dailyQuota: 250 });
    await onlySources(tenant.id);
    await collecting({}, () => waitFor(async () => (await sourceRow(tenant.id)).waiting_for === "quota", 20_000));
    const row = await sourceRow(tenant.id);
    // Two pages of 100 fit in 250; the third would not, so it was dropped and the cursor stayed at 200.
    expect(row).toMatchObject({ cursor: encodeCursor(200), pages_committed: 2, consecutive_failures: 0, last_error: null });
    expect((await storedEventIds(tenant.id)).length).toBe(row.events_stored);
    const midnight = (Math.floor(Date.now() / 86_400_000) + 1) * 86_400_000;
    expect(row.next_fetch_at.getTime()).toBeGreaterThanOrEqual(midnight);
    expect(row.next_fetch_at.getTime()).toBeLessThanOrEqual(midnight + 60_000);
    expect((await requireSourceStatus(tenant)).waitingFor).toBe("quota");
  });

  it("`npm run worker` collects sources too, and its workers apply what it collected", async () => {
    const spec: FeedSpec = { seed: 24, kind: "fixed", total: 250 };
    const tenant = await tenantWithSource(sim.feedUrl(spec), { pageSize: 100 });
    await onlySources(tenant.id);
    const root = path.resolve(import.meta.dirname, "../..");
    const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "server/cli/worker.ts")], {
      cwd: root,
      env: { ...process.env, NODE_ENV: "test", LOG_LEVEL: "error", WORKER_POLL_MS: "50" },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      await waitFor(async () => {
        const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE tenant_id = $1 AND status = 'done'", [tenant.id]);
        return (await sourceRow(tenant.id)).cursor === encodeCursor(spec.total) && rows[0]?.n === distinctIds(feedEvents(spec)).length;
      }, 60_000);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
    expect((await sourceRow(tenant.id)).lease_owner).toBeNull();
  });

  it("pause stops fetching, resume starts again, a new URL starts from its first page, remove stops for good", async () => {
    const first: FeedSpec = { seed: 21, kind: "fixed", total: 100 };
    const tenant = await tenantWithSource(sim.feedUrl(first), { pageSize: 50 });
    await onlySources(tenant.id);
    await pauseSource(tenant);
    const before = sim.requests.length;
    await collecting({}, async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(sim.requests.length).toBe(before);
      await resumeSource(tenant);
      await waitFor(async () => (await sourceRow(tenant.id)).cursor === encodeCursor(100), 20_000);

      const second: FeedSpec = { seed: 22, kind: "fixed", total: 70 };
      const changed = await setSource(tenant, { url: sim.feedUrl(second) });
      expect(changed.cursor).toBeNull();
      expect(changed.pageSize).toBe(50);
      await waitFor(async () => (await sourceRow(tenant.id)).cursor === encodeCursor(70), 20_000);
      expect(await storedEventIds(tenant.id)).toEqual(distinctIds([...feedEvents(first), ...feedEvents(second)]));

      await removeSource(tenant);
      expect(await sourceStatus(tenant)).toBeNull();
    });
  });
});
