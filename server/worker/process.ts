/**
 * Processing one claim: apply its events exactly once, or give them back.
 *
 * applyClaim runs one transaction: lock the claimed events that are still
 * ours (status processing, locked_by = this claim; a lease that expired and
 * was taken over is no longer ours, so its events are skipped, never applied
 * twice), apply them (server/core), mark each with its outcome, and add the
 * rollups. Outcome and item state commit together or not at all.
 *
 * processClaim adds the failure policy:
 * - transient errors (deadlock, serialization, lost connection) retry the
 *   whole batch with exponential backoff and full jitter, then give the
 *   events back (pending, due after a backoff);
 * - any other error means some event in the batch is poison: each event is
 *   then processed alone, so the others still apply, and the failing one is
 *   retried after a backoff until WORKER_MAX_ATTEMPTS, then becomes `dead`
 *   with its error kept (replayable).
 */
import { applyBatch } from "../core/apply.ts";
import { lockSteps } from "../core/lock-order.ts";
import { recordRollups, type Outcome, type ProcessedEvent } from "../core/rollups.ts";
import { sql, statement, transaction } from "../db.ts";
import type { EventType } from "../ingest/envelope.ts";
import { fullJitterBackoff, type Random } from "../lib/jitter.ts";
import { log } from "../log.ts";
import { metrics } from "../metrics.ts";
import type { Claim } from "./scheduler.ts";
import { isTransient, sqlState } from "./transient.ts";

export interface FailurePolicy {
  maxAttempts: number;
  /** In-process retries of a batch that hit a transient error. */
  transientRetries: number;
  random: Random;
}

const TRANSIENT_BASE_MS = 50;
const TRANSIENT_CAP_MS = 2_000;
const RETRY_BASE_MS = 1_000;
const RETRY_CAP_MS = 5 * 60_000;

const LOCK_OWNED_EVENTS = statement(
  "lock_owned_events",
  `
SELECT id, tenant_id, event_id, payload
  FROM events
 WHERE id = ANY($1::bigint[]) AND status = 'processing' AND locked_by = $2
 ORDER BY id
   FOR UPDATE`,
);

const MARK_DONE = statement(
  "mark_done",
  `
UPDATE events AS e
   SET status = 'done', outcome = r.outcome, last_error = r.error, processed_at = clock_timestamp(),
       locked_by = NULL, locked_until = NULL
  FROM unnest($1::bigint[], $2::text[], $3::text[]) AS r(id, outcome, error)
 WHERE e.id = r.id
RETURNING e.tenant_id, e.type, e.outcome, e.received_at, e.processed_at`,
);

interface FinishedRow {
  tenant_id: number;
  type: EventType;
  outcome: Outcome;
  received_at: Date;
  processed_at: Date;
}

export function toProcessed(rows: FinishedRow[]): ProcessedEvent[] {
  return rows.map((row) => ({ tenantId: row.tenant_id, type: row.type, outcome: row.outcome, receivedAt: row.received_at, processedAt: row.processed_at }));
}

/** Applies the claim's events that are still leased to it; returns how many it finished. */
export async function applyClaim(claim: Claim): Promise<number> {
  return transaction(async (tx) => {
    lockSteps(tx).enter("events");
    const owned = await sql<{ id: number; tenant_id: number; event_id: string; payload: unknown }>(tx, LOCK_OWNED_EVENTS, [claim.eventIds, claim.claimId]);
    if (owned.length === 0) return 0;
    const results = await applyBatch(
      tx,
      owned.map((row) => ({ id: row.id, tenantId: row.tenant_id, eventId: row.event_id, payload: row.payload })),
    );
    // These events rows were locked by LOCK_OWNED_EVENTS: no new lock is taken here.
    const finished = await sql<FinishedRow>(tx, MARK_DONE, [
      results.map((result) => result.id),
      results.map((result) => result.outcome),
      results.map((result) => result.error),
    ]);
    await recordRollups(tx, toProcessed(finished));
    for (const row of finished) metrics.eventsProcessed.inc({ outcome: row.outcome });
    return finished.length;
  });
}

const GIVE_BACK = `
UPDATE events
   SET status = 'pending', locked_by = NULL, locked_until = NULL, last_error = $3,
       available_at = now() + $4 * interval '1 millisecond'
 WHERE id = ANY($1::bigint[]) AND status = 'processing' AND locked_by = $2`;

/** Returns the claim's events to the queue, due after `delayMs`. Attempts were counted when claimed. */
export async function giveBack(claim: Claim, error: string, delayMs: number): Promise<void> {
  await transaction((tx) => {
    lockSteps(tx).enter("events");
    return sql(tx, GIVE_BACK, [claim.eventIds, claim.claimId, error, Math.round(delayMs)]);
  });
}

// The retry delay is fullJitterBackoff computed in SQL, where the attempt
// count is: $5 (a number from the injected random source) × min(cap, base·2^attempts).
const FAIL_ONE = `
UPDATE events
   SET status = CASE WHEN attempts >= $3 THEN 'dead' ELSE 'pending' END,
       outcome = CASE WHEN attempts >= $3 THEN 'dead' END,
       processed_at = CASE WHEN attempts >= $3 THEN clock_timestamp() END,
       available_at = now() + $5 * least($6, $7 * power(2, attempts)) * interval '1 millisecond',
       last_error = $4, locked_by = NULL, locked_until = NULL
 WHERE id = $1 AND status = 'processing' AND locked_by = $2
RETURNING tenant_id, type, outcome, received_at, processed_at, attempts`;

/** Records a non-transient failure of one event: retry later, or dead after the last attempt. */
async function failEvent(claim: Claim, eventId: number, error: unknown, policy: FailurePolicy): Promise<void> {
  const message = error instanceof Error ? error.message : String(error);
  await transaction(async (tx) => {
    lockSteps(tx).enter("events");
    const [row] = await sql<FinishedRow & { attempts: number }>(tx, FAIL_ONE, [
      eventId,
      claim.claimId,
      policy.maxAttempts,
      message.slice(0, 2_000),
      policy.random(),
      RETRY_CAP_MS,
      RETRY_BASE_MS,
    ]);
    if (!row) return;
    if (row.outcome === "dead") {
      await recordRollups(tx, toProcessed([row]));
      metrics.eventsProcessed.inc({ outcome: "dead" });
      log.warn({ module: "worker", eventId, attempts: row.attempts, err: message }, "event is dead after its last attempt");
    }
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Processes a claim under the failure policy; never throws for a database error. */
export async function processClaim(claim: Claim, policy: FailurePolicy): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const end = metrics.batchSeconds.startTimer();
      await applyClaim(claim);
      end();
      return;
    } catch (error) {
      if (isTransient(error)) {
        metrics.transientRetries.inc({ sqlstate: sqlState(error) ?? "connection" });
        if (attempt < policy.transientRetries) {
          await sleep(fullJitterBackoff(attempt, TRANSIENT_BASE_MS, TRANSIENT_CAP_MS, policy.random));
          continue;
        }
        const delay = fullJitterBackoff(attempt, RETRY_BASE_MS, RETRY_CAP_MS, policy.random);
        await giveBack(claim, (error as Error).message, delay).catch((giveBackError: Error) =>
          // The lease will expire and the reaper will return the events; nothing is lost.
          log.warn({ module: "worker", err: giveBackError.message }, "could not give a batch back; its lease will expire"),
        );
        return;
      }
      if (claim.eventIds.length > 1) {
        log.warn({ module: "worker", tenantIds: claim.tenantIds, size: claim.eventIds.length, err: (error as Error).message }, "batch failed; isolating its events");
        for (const id of claim.eventIds) await processClaim({ ...claim, eventIds: [id] }, policy);
        return;
      }
      await failEvent(claim, claim.eventIds[0] as number, error, policy).catch((failError: Error) =>
        log.warn({ module: "worker", err: failError.message }, "could not record an event's failure; its lease will expire"),
      );
      return;
    }
  }
}
