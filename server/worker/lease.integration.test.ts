/**
 * Leases (lease.ts, inbox.ts) on the real database, with a real slow batch:
 * thin events whose item API (a local HTTP server standing where a tenant's
 * system would, test/item-api.ts) answers after 1.5 s, three times the lease.
 *
 * - With the heartbeat, the batch keeps its lease: the second worker never
 *   claims its events, and each event is claimed once and applied once.
 * - Control: without the heartbeat (the test-only fault no-lease-heartbeat)
 *   the same batch's lease expires mid-fetch and the second worker claims the
 *   same events again (still applied once: the claim rows are the fence).
 * - An expired lease returns its events without spending an attempt, so an
 *   event whose lease expires again and again never becomes dead.
 *
 * Every claim is recorded by a trigger on `claims` in a table of the test's
 * own, so a second claim of an event cannot go unseen.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { env } from "../env.ts";
import type { Fault } from "../faults.ts";
import { setSource } from "../collector/sources.ts";
import type { TEventBody } from "../core/event.ts";
import { event, storeInInbox, type TestEvent } from "../../test/events.ts";
import { startItemApi, type TestItemApi } from "../../test/item-api.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { unfinishedEvents, waitFor } from "../../test/worker.ts";
import { applyClaim, processClaim } from "./process.ts";
import { reapExpiredLeases } from "./reaper.ts";
import { claimNext } from "./scheduler.ts";
import { Worker } from "./worker.ts";

const LEASE_MS = 500;
const FETCH_LATENCY_MS = 1_500;
const WORKER = { concurrency: 1, quantum: 100, maxBatch: 100, leaseMs: LEASE_MS, maxAttempts: 3, pollMs: 20 };

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await pool.query("DELETE FROM claim_log");
  await pool.query("DELETE FROM tenants");
});

beforeAll(async () => {
  await pool.query("CREATE TABLE claim_log (claim_id text NOT NULL, event_id bigint NOT NULL)");
  await pool.query(`
    CREATE FUNCTION log_claims() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO claim_log SELECT NEW.claim_id, unnest(NEW.event_ids);
      RETURN NEW;
    END $$`);
  await pool.query("CREATE TRIGGER log_claims AFTER INSERT ON claims FOR EACH ROW EXECUTE FUNCTION log_claims()");
});

/** Sets the test-only fault for this process until the test ends (faults.ts reads env at each call). */
function withFault(fault: Fault): void {
  const settable = env as { TIDEMARK_FAULT?: Fault };
  settable.TIDEMARK_FAULT = fault;
  cleanups.push(() => Promise.resolve((settable.TIDEMARK_FAULT = undefined)));
}

async function slowThinTenant(events: number): Promise<{ tenantId: number; api: TestItemApi }> {
  const api = await startItemApi({ latencyMs: FETCH_LATENCY_MS });
  cleanups.push(() => api.close());
  const tenant = await createTestTenant({ ratePerSecond: 1_000_000, burst: 10_000_000 });
  await setSource(tenant, { url: api.feedUrl, itemUrl: api.itemUrl });
  const thin: TestEvent[] = [];
  for (let i = 0; i < events; i++) {
    api.set({ id: `slow-${i}`, version: 1, name: `slow ${i}` });
    const body = { type: "item.created", thin: true, timestamp: "2026-11-27T10:00:00Z", data: { id: `slow-${i}`, version: 1 } };
    thin.push({ eventId: `thin-${i}`, body: body as unknown as TEventBody });
  }
  await storeInInbox(tenant.id, thin);
  return { tenantId: tenant.id, api };
}

async function startWorker(): Promise<Worker> {
  const worker = new Worker(WORKER);
  await worker.start();
  cleanups.push(() => worker.stop(5_000));
  return worker;
}

/** Runs worker A on a slow batch, starts worker B once A holds it, and waits until every event is done. */
async function slowBatchBesideASecondWorker(events: number): Promise<{ claimsPerEvent: number[]; applied: number; attempts: number[] }> {
  const { tenantId } = await slowThinTenant(events);
  await startWorker();
  await waitFor(async () => (await pool.query("SELECT 1 FROM claims WHERE tenant_id = $1", [tenantId])).rowCount === 1, 10_000);
  await startWorker();
  await waitFor(async () => (await unfinishedEvents()) === 0, 30_000);
  const { rows: claimed } = await pool.query<{ n: number }>(
    "SELECT count(l.claim_id)::int AS n FROM events e LEFT JOIN claim_log l ON l.event_id = e.id WHERE e.tenant_id = $1 GROUP BY e.id ORDER BY e.id",
    [tenantId],
  );
  const { rows: rollup } = await pool.query<{ applied: number }>(
    "SELECT coalesce(sum(applied), 0)::int AS applied FROM rollup_counts WHERE tenant_id = $1 AND resolution = 60",
    [tenantId],
  );
  const { rows: attempts } = await pool.query<{ attempts: number }>("SELECT attempts FROM events WHERE tenant_id = $1 ORDER BY id", [tenantId]);
  return { claimsPerEvent: claimed.map((row) => row.n), applied: rollup[0]?.applied ?? -1, attempts: attempts.map((row) => row.attempts) };
}

describe("lease renewal", () => {
  it("a batch three times slower than its lease keeps it by heartbeat: no second worker claims its events", { timeout: 60_000 }, async () => {
    const result = await slowBatchBesideASecondWorker(4);
    console.log(`heartbeat: claims per event ${result.claimsPerEvent.join(", ")}; applied ${result.applied}`);
    expect(result.claimsPerEvent).toEqual([1, 1, 1, 1]);
    expect(result.applied).toBe(4);
    expect(result.attempts).toEqual([1, 1, 1, 1]);
  });

  it(
    "control: without the heartbeat (fault no-lease-heartbeat) the lease expires mid-batch and the second worker claims the same events",
    {
      timeout: 60_000,
    },
    async () => {
      withFault("no-lease-heartbeat");
      const result = await slowBatchBesideASecondWorker(4);
      console.log(`no heartbeat (control): claims per event ${result.claimsPerEvent.join(", ")}; applied ${result.applied}`);
      expect(Math.max(...result.claimsPerEvent)).toBeGreaterThanOrEqual(2);
      // Still applied once, and the expired lease spent no attempt: only the attempt that ended counts.
      expect(result.applied).toBe(4);
      expect(result.attempts).toEqual([1, 1, 1, 1]);
    },
  );

  it("an expired lease returns its events without spending an attempt: leases that expire again and again never make an event dead", async () => {
    const tenant = await createTestTenant();
    await storeInInbox(tenant.id, [event("e1", "item.created", "a", 1), event("e2", "item.created", "b", 1)]);
    const maxAttempts = 1;
    for (let expiry = 1; expiry <= 3; expiry++) {
      const claim = await claimNext({ quantum: 100, maxBatch: 100, leaseMs: 200 });
      expect(claim?.eventIds).toHaveLength(2);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await reapExpiredLeases()).toBe(2);
      // The stalled claim's holder wakes up: it owns nothing any more.
      expect(await applyClaim(claim as NonNullable<typeof claim>)).toBe(0);
      const { rows } = await pool.query("SELECT status, attempts, last_error FROM events WHERE tenant_id = $1 ORDER BY id", [tenant.id]);
      for (const row of rows) {
        expect(row).toMatchObject({ status: "pending", attempts: 0 });
        expect(row.last_error).toContain("expired");
      }
    }
    const last = await claimNext({ quantum: 100, maxBatch: 100, leaseMs: 30_000 });
    await processClaim(last as NonNullable<typeof last>, { maxAttempts, transientRetries: 0, random: () => 0 });
    const { rows } = await pool.query("SELECT status, outcome, attempts FROM events WHERE tenant_id = $1 ORDER BY id", [tenant.id]);
    expect(rows).toEqual([
      { status: "done", outcome: "applied", attempts: 1 },
      { status: "done", outcome: "applied", attempts: 1 },
    ]);
    expect((await pool.query("SELECT count(*)::int AS n FROM claims")).rows[0]).toEqual({ n: 0 });
  });
});
