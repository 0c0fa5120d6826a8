/**
 * The inbox's state machine: every statement that moves an event between
 * statuses lives here, and nowhere else.
 *
 *   pending ──claim──▶ processing ──markDone──▶ done (applied | stale | duplicate | rejected)
 *      ▲                   │
 *      ├────giveBack───────┤  (transient failure, shutdown: the attempt is not held against it)
 *      ├────fail / reap────┤  (a failed or expired attempt: pending again, after a backoff …
 *      │                   └────────────────▶ dead  … or dead once it has had its last attempt)
 *      └──────replayDead────────────────────── dead
 *
 * Rules every statement keeps:
 * - A leased event is touched only by its lease holder: every statement on
 *   `processing` rows names the claim (locked_by), so a claim whose lease
 *   expired and was taken over changes nothing.
 * - attempts is counted when an event is claimed; an attempt that fails or
 *   whose lease expires makes the event dead once attempts ≥ max attempts
 *   (ATTEMPT_ENDS, written once for both).
 * - Rows are locked in ascending id (the order of the claim and of
 *   LOCK_OWNED_EVENTS), so two statements on the same events cannot deadlock.
 * - Whatever reaches an outcome here is returned as ProcessedEvent rows, for
 *   the rollups to count in the same transaction.
 */
import { pool, sql, statement, type Queryable, type Tx } from "../db.ts";
import type { ApplyOutcome, EventType, Outcome } from "../core/event.ts";
import type { InboxEvent } from "../core/apply.ts";
import { lockSteps } from "../core/lock-order.ts";
import type { ProcessedEvent } from "../stats/rollups.ts";

/** What a claim leases: one batch, under one claim id. */
export interface Lease {
  claimId: string;
  eventIds: number[];
}

/** The settings of a claim: how much one visit may take, and for how long. */
export interface ClaimLimits {
  quantum: number;
  maxBatch: number;
  leaseMs: number;
  maxTenants: number;
}

/**
 * The claim: the scheduler's walk (server/worker/scheduler.ts) runs in the
 * database as tidemark_claim, one round trip, which moves the events it
 * takes from pending to processing under `claimId`. Parameters: quantum,
 * max batch, lease ms, claim id, max tenants.
 */
export const CLAIM = statement("claim", "SELECT tenant_id, event_id FROM tidemark_claim($1, $2, $3, $4, $5)");

/**
 * Runs one claim as its own autocommit statement: the claim lock is taken and
 * released inside the server, never held while the server waits on this
 * process, so a paused or cut-off worker cannot stop the others from claiming.
 */
export async function claimEvents(limits: ClaimLimits, claimId: string, on: Queryable = pool): Promise<{ tenant_id: number; event_id: number }[]> {
  return sql<{ tenant_id: number; event_id: number }>(on, CLAIM, [limits.quantum, limits.maxBatch, limits.leaseMs, claimId, limits.maxTenants]);
}

/**
 * The end of an attempt that did not succeed (it failed, or its lease
 * expired): dead after the last attempt, pending again before it. `maxParam`
 * is the statement's parameter holding the max attempts. The retry delay
 * (available_at) is each caller's.
 */
const ATTEMPT_ENDS = (maxParam: string) => `
       status = CASE WHEN attempts >= ${maxParam} THEN 'dead' ELSE 'pending' END,
       outcome = CASE WHEN attempts >= ${maxParam} THEN 'dead' END,
       processed_at = CASE WHEN attempts >= ${maxParam} THEN clock_timestamp() END,
       locked_by = NULL, locked_until = NULL`;

/** What a statement that ends processing returns about each event it finished. */
const FINISHED = "e.tenant_id, e.type, e.outcome, e.received_at, e.processed_at";

interface FinishedRow {
  tenant_id: number;
  type: EventType;
  outcome: Outcome | null;
  received_at: Date;
  processed_at: Date | null;
}

/** The rows that reached an outcome, as the rollups count them. */
function processed(rows: readonly FinishedRow[]): ProcessedEvent[] {
  return rows.flatMap((row) =>
    row.outcome === null || row.processed_at === null
      ? []
      : [{ tenantId: row.tenant_id, type: row.type, outcome: row.outcome, receivedAt: row.received_at, processedAt: row.processed_at }],
  );
}

const LOCK_OWNED_EVENTS = statement(
  "lock_owned_events",
  `
SELECT id, tenant_id, event_id, payload,
       source_timestamp < (SELECT t.tombstone_horizon FROM tenants t WHERE t.id = events.tenant_id) AS before_horizon
  FROM events
 WHERE id = ANY($1::bigint[]) AND status = 'processing' AND locked_by = $2
 ORDER BY id
   FOR UPDATE`,
);

/** Locks the lease's events that are still its own (a taken-over lease owns none) and returns them. */
export async function lockOwnedEvents(tx: Tx, lease: Lease): Promise<InboxEvent[]> {
  lockSteps(tx).enter("events");
  const rows = await sql<{ id: number; tenant_id: number; event_id: string; payload: unknown; before_horizon: boolean | null }>(tx, LOCK_OWNED_EVENTS, [
    lease.eventIds,
    lease.claimId,
  ]);
  return rows.map((row) => ({ id: row.id, tenantId: row.tenant_id, eventId: row.event_id, payload: row.payload, beforeHorizon: row.before_horizon === true }));
}

const MARK_DONE = statement(
  "mark_done",
  `
UPDATE events AS e
   SET status = 'done', outcome = r.outcome, last_error = r.error, processed_at = clock_timestamp(),
       locked_by = NULL, locked_until = NULL
  FROM unnest($1::bigint[], $2::text[], $3::text[]) AS r(id, outcome, error)
 WHERE e.id = r.id
RETURNING ${FINISHED}`,
);

/** Records each event's outcome. Only for events this transaction locked with lockOwnedEvents. */
export async function markDone(tx: Tx, results: readonly { id: number; outcome: ApplyOutcome; error: string | null }[]): Promise<ProcessedEvent[]> {
  // The rows were locked by lockOwnedEvents in this transaction: no new lock is taken here.
  const rows = await sql<FinishedRow>(tx, MARK_DONE, [results.map((r) => r.id), results.map((r) => r.outcome), results.map((r) => r.error)]);
  return processed(rows);
}

const GIVE_BACK = statement(
  "give_back",
  `
UPDATE events
   SET status = 'pending', locked_by = NULL, locked_until = NULL, last_error = $3,
       available_at = now() + $4 * interval '1 millisecond'
 WHERE id = ANY($1::bigint[]) AND status = 'processing' AND locked_by = $2`,
);

/** Returns the lease's events to the queue, due after `delayMs`. Attempts were counted when claimed. */
export async function giveBack(tx: Tx, lease: Lease, error: string, delayMs: number): Promise<void> {
  lockSteps(tx).enter("events");
  await sql(tx, GIVE_BACK, [lease.eventIds, lease.claimId, error, Math.round(delayMs)]);
}

// The retry delay is fullJitterBackoff computed in SQL, where the attempt
// count is: $5 (a number from the injected random source) × min(cap, base·2^attempts).
const FAIL_ONE = statement(
  "fail_one",
  `
UPDATE events AS e
   SET ${ATTEMPT_ENDS("$3")},
       available_at = now() + $5 * least($6, $7 * power(2, attempts)) * interval '1 millisecond',
       last_error = $4
 WHERE id = $1 AND status = 'processing' AND locked_by = $2
RETURNING ${FINISHED}, e.attempts`,
);

export interface RetryDelay {
  /** A number in [0, 1) from the injected random source. */
  random: number;
  baseMs: number;
  capMs: number;
}

/**
 * Records a failed attempt of one leased event: pending again after a
 * backoff, or dead after its last attempt (then returned, to be counted).
 * Returns null when the lease no longer owns the event.
 */
export async function failEvent(
  tx: Tx,
  lease: Pick<Lease, "claimId">,
  eventId: number,
  error: string,
  maxAttempts: number,
  delay: RetryDelay,
): Promise<{ attempts: number; dead: ProcessedEvent[] } | null> {
  lockSteps(tx).enter("events");
  const [row] = await sql<FinishedRow & { attempts: number }>(tx, FAIL_ONE, [
    eventId,
    lease.claimId,
    maxAttempts,
    error.slice(0, 2_000),
    delay.random,
    delay.capMs,
    delay.baseMs,
  ]);
  return row ? { attempts: row.attempts, dead: processed([row]) } : null;
}

// SKIP LOCKED: the reaper never waits for a batch that is committing, and a batch that
// commits first is no longer `processing`, so it is not reaped.
const REAP = statement(
  "reap",
  `
WITH expired AS (
  SELECT id FROM events
   WHERE status = 'processing' AND locked_until < now()
   ORDER BY id
   LIMIT $2
     FOR UPDATE SKIP LOCKED)
UPDATE events AS e
   SET ${ATTEMPT_ENDS("$1")},
       last_error = 'lease expired after attempt ' || e.attempts || ': the worker stopped or crashed mid-batch'
  FROM expired
 WHERE e.id = expired.id
RETURNING ${FINISHED}`,
);

/** Ends up to `limit` expired leases' attempts; returns how many events it reaped and those now dead. */
export async function reapExpired(tx: Tx, maxAttempts: number, limit: number): Promise<{ reaped: number; dead: ProcessedEvent[] }> {
  lockSteps(tx).enter("events");
  const rows = await sql<FinishedRow>(tx, REAP, [maxAttempts, limit]);
  return { reaped: rows.length, dead: processed(rows) };
}

const REPLAY = statement(
  "replay_dead",
  `
WITH dead AS (
  SELECT id, type, received_at, processed_at FROM events
   WHERE tenant_id = $1 AND status = 'dead' AND ($2::text[] IS NULL OR event_id = ANY($2::text[]))
   ORDER BY id
     FOR UPDATE)
UPDATE events AS e
   SET status = 'pending', outcome = NULL, processed_at = NULL, attempts = 0, available_at = now()
  FROM dead
 WHERE e.id = dead.id
RETURNING e.tenant_id, dead.type, dead.received_at, dead.processed_at`,
);

/**
 * Sends the tenant's dead events (all, or those with the given event ids)
 * back to pending with fresh attempts; returns them as they were counted
 * (their outcome `dead`), for the rollups to take back out.
 */
export async function replayDeadEvents(tx: Tx, tenantId: number, eventIds: readonly string[] | undefined): Promise<Omit<ProcessedEvent, "outcome">[]> {
  lockSteps(tx).enter("events");
  const rows = await sql<{ tenant_id: number; type: EventType; received_at: Date; processed_at: Date }>(tx, REPLAY, [
    tenantId,
    eventIds ? [...eventIds] : null,
  ]);
  return rows.map((row) => ({ tenantId: row.tenant_id, type: row.type, receivedAt: row.received_at, processedAt: row.processed_at }));
}
