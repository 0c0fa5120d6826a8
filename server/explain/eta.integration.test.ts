/**
 * The drain ETA against the drain itself, on a seeded workload at steady
 * state: two tenants fed by the simulated feed (server/sim/feed.ts) at fixed
 * rates through the ingestion insert, drained by the real scheduler and
 * worker code (claimNext + processClaim) paced at a fixed 100 events/s, with
 * the backlog sampler running as the worker runs it. Tenant A (25/s arriving,
 * its share 50/s) drains; tenant B (80/s arriving) cannot.
 *
 * The ETA is read once it has 45 s of history, then the test waits for A's
 * backlog to be gone and compares. Control: the naive estimate that ignores
 * arrivals (backlog / service rate) is shown to miss the same ±25% band, so
 * the band can tell an estimate that leaves out a term from one that does not.
 */
import { afterAll, describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { storeInInbox, bulkPending } from "../../test/events.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { waitFor } from "../../test/worker.ts";
import { eventsBetween, toBody, type FeedSpec } from "../sim/feed.ts";
import { sampleBacklogs } from "../stats/backlog-sampler.ts";
import { processClaim } from "../worker/process.ts";
import { claimNext } from "../worker/scheduler.ts";
import { tenantDrainEstimate } from "./drain-rates.ts";

const TICK_MS = 100;
const BATCH = 10; // one claim per tick: 100 events/s, shared by the two backlogged tenants (50/s each)
const FEED_TICK_MS = 200;
const A_PER_FEED_TICK = 5; // 25/s
const B_PER_FEED_TICK = 16; // 80/s
const A_BACKLOG = 4_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let running = true;
afterAll(() => {
  running = false;
});

/** Calls `step` every `everyMs` on a fixed schedule (catching up when a step ran late), until stopped. */
async function paced(everyMs: number, step: () => Promise<void>): Promise<void> {
  let next = Date.now();
  while (running) {
    await step();
    next += everyMs;
    await sleep(Math.max(0, next - Date.now()));
  }
}

async function backlogOf(tenantId: number): Promise<number> {
  const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE tenant_id = $1 AND status = 'pending'", [tenantId]);
  return rows[0]?.n ?? -1;
}

describe("backlog drain ETA", () => {
  it("is within ±25% of the measured drain time on a steady seeded feed, and 'never' for the tenant whose arrivals exceed its share", async () => {
    const a = await createTestTenant({ name: "draining" });
    const b = await createTestTenant({ name: "overloaded" });
    await bulkPending(a.id, A_BACKLOG);
    await bulkPending(b.id, 2_000);
    await sampleBacklogs();

    const feeds: { tenantId: number; spec: FeedSpec; perTick: number; position: number }[] = [
      { tenantId: a.id, spec: { seed: 11, kind: "fixed", total: 1_000_000 }, perTick: A_PER_FEED_TICK, position: 0 },
      { tenantId: b.id, spec: { seed: 12, kind: "fixed", total: 1_000_000 }, perTick: B_PER_FEED_TICK, position: 0 },
    ];
    const policy = { maxAttempts: 5, transientRetries: 3, random: Math.random };
    const loops = [
      paced(FEED_TICK_MS, async () => {
        for (const feed of feeds) {
          const events = eventsBetween(feed.spec, feed.position, feed.position + feed.perTick);
          feed.position += feed.perTick;
          await storeInInbox(
            feed.tenantId,
            events.map((e) => ({ eventId: e.id, body: toBody(e) })),
          );
        }
      }),
      paced(TICK_MS, async () => {
        const claim = await claimNext({ quantum: BATCH, maxBatch: BATCH, leaseMs: 30_000 });
        if (claim) await processClaim(claim, policy);
      }),
      paced(10_000, async () => {
        await sampleBacklogs();
      }),
    ];

    try {
      let estimate = await tenantDrainEstimate(a.id);
      await waitFor(async () => {
        estimate = await tenantDrainEstimate(a.id);
        return estimate.state === "draining" && estimate.measuredMs >= 45_000;
      }, 150_000);
      const estimatedAt = Date.now();
      if (estimate.state !== "draining") throw new Error(`no estimate: ${estimate.state}`);
      const overloaded = await tenantDrainEstimate(b.id);

      await waitFor(async () => (await backlogOf(a.id)) <= 20, 200_000);
      const actualMs = Date.now() - estimatedAt;
      const naiveMs = (estimate.backlog / estimate.servicePerSecond) * 1000;
      console.info(
        `ETA ${Math.round(estimate.etaMs / 1000)} s (range ${Math.round(estimate.etaLowMs / 1000)}–${estimate.etaHighMs === null ? "never" : Math.round(estimate.etaHighMs / 1000)} s; ` +
          `μ ${estimate.servicePerSecond.toFixed(1)}/s, λ ${estimate.arrivalPerSecond.toFixed(1)}/s over ${Math.round(estimate.measuredMs / 1000)} s in ${estimate.buckets} buckets), ` +
          `actual ${Math.round(actualMs / 1000)} s, naive ${Math.round(naiveMs / 1000)} s; B: ${overloaded.state}`,
      );
      expect(Math.abs(estimate.etaMs - actualMs)).toBeLessThanOrEqual(0.25 * actualMs);
      // Control: leaving arrivals out misses the band (μ 50/s against a net 25/s is half the drain time).
      expect(Math.abs(naiveMs - actualMs)).toBeGreaterThan(0.25 * actualMs);
      expect(overloaded).toMatchObject({ state: "never" });
    } finally {
      running = false;
      await Promise.all(loops);
    }
  }, 330_000);
});
