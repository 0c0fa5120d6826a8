/**
 * A small tenant's wait beside a whale whose visit spans many batches
 * (weight 400 × quantum 100 = a 40,000-event visit, 100 events a batch), on
 * two worker loops: the open visit is claimed by one loop at a time, so the
 * small tenant's events are served by the other loop within about a batch,
 * not after the whale's whole visit (tidemark_claim, rule 2 of
 * 20261203101000_claims_as_rows).
 *
 * Control: with the rule off (the test-only fault whale-takes-all-loops, the
 * behaviour before) every loop takes the whale's open visit, and the same
 * small events wait for it to end: the same bound fails.
 */
import { afterEach, describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { env } from "../env.ts";
import type { Fault } from "../faults.ts";
import { signalNewEvents } from "../lib/wake.ts";
import { bulkPending, event, storeInInbox } from "../../test/events.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { waitFor } from "../../test/worker.ts";
import { Worker } from "./worker.ts";

const WHALE_WEIGHT = 400;
const QUANTUM = 100;
/** The whale's first visit: long enough that the control's small events, waiting for it to end, miss the bound even on a fast machine. */
const WHALE_VISIT = WHALE_WEIGHT * QUANTUM;
const WHALE_BACKLOG = 2 * WHALE_VISIT;
const SMALL_EVENTS = 40;
const SMALL_EVERY_MS = 50;
/** The small tenant's p99 wait (received → applied) must stay under this. */
const BOUND_MS = 1_500;

let worker: Worker | undefined;
afterEach(async () => {
  await worker?.stop(5_000);
  worker = undefined;
  (env as { TIDEMARK_FAULT?: Fault }).TIDEMARK_FAULT = undefined;
  await pool.query("DELETE FROM tenants");
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number;
}

/** The small tenant's waits in ms, sorted, and how many whale events were applied meanwhile. */
async function smallWaitsBesideWhale(): Promise<{ waits: number[]; whaleDone: number }> {
  const whale = await createTestTenant({ name: "whale", weight: WHALE_WEIGHT, maxConcurrency: 4 });
  await bulkPending(whale.id, WHALE_BACKLOG);
  const small = await createTestTenant({ name: "small" });
  worker = new Worker({ concurrency: 2, quantum: QUANTUM, maxBatch: 100, leaseMs: 30_000, maxAttempts: 3, pollMs: 20 });
  await worker.start();
  // The whale's visit is open (it spans batches) before the small tenant sends anything.
  await waitFor(async () => (await pool.query("SELECT 1 FROM scheduler_state WHERE tenant_id = $1 AND visit_open", [whale.id])).rowCount === 1, 10_000);
  for (let i = 0; i < SMALL_EVENTS; i++) {
    await storeInInbox(small.id, [event(`s-${i}`, "item.created", `s-${i}`, 1)]);
    signalNewEvents();
    await new Promise((resolve) => setTimeout(resolve, SMALL_EVERY_MS));
  }
  await waitFor(async () => (await pool.query("SELECT 1 FROM events WHERE tenant_id = $1 AND status <> 'done'", [small.id])).rowCount === 0, 60_000);
  const { rows } = await pool.query<{ ms: number }>(
    "SELECT extract(epoch FROM processed_at - received_at)::float8 * 1000 AS ms FROM events WHERE tenant_id = $1 ORDER BY ms",
    [small.id],
  );
  const { rows: whaleRows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE tenant_id = $1 AND status = 'done'", [whale.id]);
  return { waits: rows.map((row) => row.ms), whaleDone: whaleRows[0]?.n ?? 0 };
}

describe("a small tenant beside a whale's long visit", () => {
  it(`waits at most ${BOUND_MS} ms at p99: the whale's visit holds one loop at a time`, { timeout: 120_000 }, async () => {
    const { waits, whaleDone } = await smallWaitsBesideWhale();
    const p99 = percentile(waits, 0.99);
    console.log(`small tenant beside the whale: p50 ${percentile(waits, 0.5).toFixed(0)} ms, p99 ${p99.toFixed(0)} ms; whale ${whaleDone} done`);
    expect(waits).toHaveLength(SMALL_EVENTS);
    expect(p99).toBeLessThan(BOUND_MS);
    // The whale was still inside its first visit: it is the long visit the small tenant was served beside.
    expect(whaleDone).toBeLessThan(WHALE_VISIT);
  });

  it("control: when every loop takes the whale's open visit (fault whale-takes-all-loops), the same bound fails", { timeout: 120_000 }, async () => {
    (env as { TIDEMARK_FAULT?: Fault }).TIDEMARK_FAULT = "whale-takes-all-loops";
    const { waits } = await smallWaitsBesideWhale();
    const p99 = percentile(waits, 0.99);
    console.log(`control (whale takes all loops): p50 ${percentile(waits, 0.5).toFixed(0)} ms, p99 ${p99.toFixed(0)} ms`);
    expect(p99).toBeGreaterThan(BOUND_MS);
  });
});
