/**
 * Returns the events of expired leases: a worker that died (or stalled past
 * its lease) mid-batch committed nothing, so its events go back to pending,
 * or become dead once they have used their last attempt (an event that
 * crashes every worker that takes it must not crash them forever). Dead
 * events are counted in the rollups in the same transaction.
 *
 * Rows are taken with SKIP LOCKED, so the reaper never waits for a batch
 * that is committing, and a batch that commits first is no longer
 * `processing`, so it is not reaped.
 */
import { lockSteps } from "../core/lock-order.ts";
import { recordRollups } from "../core/rollups.ts";
import { sql, transaction } from "../db.ts";
import { metrics } from "../metrics.ts";
import { toProcessed } from "./process.ts";
import type { EventType } from "../ingest/envelope.ts";

const REAP = `
WITH expired AS (
  SELECT id FROM events
   WHERE status = 'processing' AND locked_until < now()
   ORDER BY id
   LIMIT $2
     FOR UPDATE SKIP LOCKED)
UPDATE events AS e
   SET status = CASE WHEN e.attempts >= $1 THEN 'dead' ELSE 'pending' END,
       outcome = CASE WHEN e.attempts >= $1 THEN 'dead' END,
       processed_at = CASE WHEN e.attempts >= $1 THEN clock_timestamp() END,
       last_error = 'lease expired after attempt ' || e.attempts || ': the worker stopped or crashed mid-batch',
       locked_by = NULL, locked_until = NULL
  FROM expired
 WHERE e.id = expired.id
RETURNING e.tenant_id, e.type, e.outcome, e.received_at, e.processed_at`;

const REAP_LIMIT = 5_000;

/** Reaps one round of expired leases; returns how many events it returned or buried. */
export async function reapExpiredLeases(maxAttempts: number): Promise<number> {
  return transaction(async (tx) => {
    const locks = lockSteps(tx);
    locks.enter("events");
    const rows = await sql<{ tenant_id: number; type: EventType; outcome: "dead" | null; received_at: Date; processed_at: Date }>(tx, REAP, [
      maxAttempts,
      REAP_LIMIT,
    ]);
    const dead = rows.filter((row) => row.outcome === "dead").map((row) => ({ ...row, outcome: "dead" as const }));
    await recordRollups(tx, toProcessed(dead));
    if (dead.length > 0) metrics.eventsProcessed.inc({ outcome: "dead" }, dead.length);
    return rows.length;
  });
}
