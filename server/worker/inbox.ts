/**
 * The inbox's state machine: every statement that moves an event between
 * statuses, or takes, renews or ends a claim on it, lives here, and nowhere
 * else.
 *
 *   pending ──claim──▶ pending, listed by a claims row ──markDone──▶ done (applied | stale | duplicate | rejected)
 *      ▲                   │
 *      ├────giveBack───────┤  (transient failure, shutdown: no attempt spent)
 *      ├────reap───────────┤  (the lease expired: no attempt spent)
 *      ├────fail───────────┤  (a failed attempt: pending again after a backoff …
 *      │                   └────────────────▶ dead  … or dead once it has failed its last attempt)
 *      └──────replayDead────────────────────── dead
 *
 * Rules every statement keeps:
 * - A claim is rows of `claims` (one per tenant served), not a write to its
 *   events: an event is written once per attempt, when the attempt ends.
 * - A claimed event is touched only by its claim's holder: the applying (or
 *   failing) transaction first locks the claim's own rows, then the events
 *   they still list. The reaper deletes only expired claim rows nobody holds
 *   (SKIP LOCKED), and a claim never takes an event a claim row lists, so a
 *   claim whose lease expired and was reaped changes nothing.
 * - attempts counts ended attempts: markDone and failEvent add one; an event
 *   is dead when a failure brings it to max attempts. A give-back or an
 *   expired lease ends no attempt, so no event becomes dead without failing.
 * - Locks are taken claims → events (LOCK_ORDER), rows in ascending key.
 * - Whatever reaches an outcome here is counted in the rollups in the same
 *   transaction: markDone adds them in its own statement, the others return
 *   ProcessedEvent rows for recordRollups.
 */
import { pool, sql, statement, type Queryable, type Tx } from "../db.ts";
import type { ApplyOutcome, EventType, Outcome } from "../core/event.ts";
import type { InboxEvent } from "../core/apply.ts";
import { lockSteps } from "../core/lock-order.ts";
import { rollupsOf, type ProcessedEvent } from "../stats/rollups.ts";

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
 * A tenant is by itself when no other tenant has pending events and none was
 * served within this many milliseconds: its visit may then fill the whole
 * batch instead of one quantum (tidemark_claim; docs/design.md, "Fair
 * scheduling"). A small tenant sending an event a second or more keeps
 * everyone else's visits at one quantum.
 */
export const ALONE_MS = 1_000;

/**
 * The claim: the scheduler's walk (server/worker/scheduler.ts) runs in the
 * database as tidemark_claim, one round trip, which inserts the claim's rows
 * for the events it takes under `claimId`. Parameters: quantum, max batch,
 * lease ms, claim id, max tenants.
 */
export const CLAIM = statement("claim", `SELECT tenant_id, event_id FROM tidemark_claim($1, $2, $3, $4, $5, true, ${ALONE_MS})`);

/** The claim with the open-visit rule turned off: only for the test-only fault whale-takes-all-loops. */
const CLAIM_WHALE_TAKES_ALL = statement("claim_whale_takes_all", `SELECT tenant_id, event_id FROM tidemark_claim($1, $2, $3, $4, $5, false, ${ALONE_MS})`);

/**
 * Runs one claim as its own autocommit statement: the claim lock is taken and
 * released inside the server, never held while the server waits on this
 * process, so a paused or cut-off worker cannot stop the others from claiming.
 */
export async function claimEvents(
  limits: ClaimLimits,
  claimId: string,
  on: Queryable = pool,
  openVisitsAlone = true,
): Promise<{ tenant_id: number; event_id: number }[]> {
  return sql<{ tenant_id: number; event_id: number }>(on, openVisitsAlone ? CLAIM : CLAIM_WHALE_TAKES_ALL, [
    limits.quantum,
    limits.maxBatch,
    limits.leaseMs,
    claimId,
    limits.maxTenants,
  ]);
}

const RENEW = statement("renew_lease", "UPDATE claims SET lease_until = now() + $2 * interval '1 millisecond' WHERE claim_id = $1");

/** Extends the claim's lease to `leaseMs` from now; false when the claim has no rows left (it ended, or was reaped). */
export async function renewLease(claimId: string, leaseMs: number, on: Queryable = pool): Promise<boolean> {
  const { rowCount } = await on.query({ name: RENEW.name, text: RENEW.text, values: [claimId, Math.round(leaseMs)] });
  return (rowCount ?? 0) > 0;
}

/**
 * "Not finished" for statements that find events by id. Written so that it does not imply
 * events_pending_idx's predicate (status = 'pending'; the two are equal under the status CHECK):
 * a generic plan would otherwise read that whole index, a whale's entire backlog, for every batch,
 * and intersect it with the ids.
 */
export const UNFINISHED = "status NOT IN ('done', 'dead')";
const UNFINISHED_E = "e.status NOT IN ('done', 'dead')";

/** What a statement that ends an attempt returns about each event it finished. */
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

/**
 * Ends the claim's hold on the events in $2 (they ended their attempt in this
 * statement's transaction): a claim row left with none is deleted, another
 * keeps the rest. $1 is the claim id. Used inside the statements below.
 */
const RELEASE = `
released AS (
  DELETE FROM claims WHERE claim_id = $1 AND event_ids <@ $2::bigint[]),
trimmed AS (
  UPDATE claims SET event_ids = ARRAY(SELECT x FROM unnest(claims.event_ids) AS x WHERE x <> ALL ($2::bigint[]) ORDER BY x)
   WHERE claim_id = $1 AND NOT (event_ids <@ $2::bigint[]) AND event_ids && $2::bigint[])`;

const LOCK_CLAIM = statement("lock_claim", "SELECT event_ids FROM claims WHERE claim_id = $1 ORDER BY tenant_id FOR UPDATE");

const LOCK_OWNED_EVENTS = statement(
  "lock_owned_events",
  `
SELECT id, tenant_id, event_id, payload,
       source_timestamp < (SELECT t.tombstone_horizon FROM tenants t WHERE t.id = events.tenant_id) AS before_horizon
  FROM events
 WHERE id = ANY($1::bigint[]) AND ${UNFINISHED}
 ORDER BY id
   FOR UPDATE`,
);

/** Locks the claim's rows, then the lease's events they still list (a reaped claim owns none); returns them. */
export async function lockOwnedEvents(tx: Tx, lease: Lease): Promise<InboxEvent[]> {
  const owned = await lockClaim(tx, lease);
  if (owned.length === 0) return [];
  lockSteps(tx).enter("events");
  const rows = await sql<{ id: number; tenant_id: number; event_id: string; payload: unknown; before_horizon: boolean | null }>(tx, LOCK_OWNED_EVENTS, [owned]);
  return rows.map((row) => ({ id: row.id, tenantId: row.tenant_id, eventId: row.event_id, payload: row.payload, beforeHorizon: row.before_horizon === true }));
}

/** Locks the claim's own rows; returns those of the lease's events that they still list. */
async function lockClaim(tx: Tx, lease: Lease): Promise<number[]> {
  lockSteps(tx).enter("claims");
  const rows = await sql<{ event_ids: string[] }>(tx, LOCK_CLAIM, [lease.claimId]);
  const held = new Set(rows.flatMap((row) => row.event_ids.map(Number)));
  return lease.eventIds.filter((id) => held.has(id));
}

const MARK_DONE = statement(
  "mark_done",
  `
WITH done AS (
  UPDATE events AS e
     SET status = 'done', outcome = r.outcome, last_error = r.error, processed_at = clock_timestamp(), attempts = e.attempts + 1
    FROM unnest($3::bigint[], $4::text[], $5::text[]) AS r(id, outcome, error)
   WHERE e.id = r.id
  RETURNING ${FINISHED}),
${RELEASE},
${rollupsOf("done")}
SELECT outcome, count(*)::int AS n FROM done GROUP BY outcome`,
);

/**
 * Records each event's outcome, ends the lease's hold on them and adds them
 * to the rollups, in one statement (the rollups computed by the database:
 * server/stats/rollups.ts, rollupsOf). Only for events this transaction
 * locked with lockOwnedEvents. Returns how many events reached each outcome.
 */
export async function markDone(
  tx: Tx,
  lease: Lease,
  results: readonly { id: number; outcome: ApplyOutcome; error: string | null }[],
): Promise<Map<ApplyOutcome, number>> {
  // The claim's rows and the events were locked by lockOwnedEvents in this transaction; the rollup rows come next.
  lockSteps(tx).enter("rollup_counts");
  lockSteps(tx).enter("rollup_latency");
  const rows = await sql<{ outcome: ApplyOutcome; n: number }>(tx, MARK_DONE, [
    lease.claimId,
    lease.eventIds,
    results.map((r) => r.id),
    results.map((r) => r.outcome),
    results.map((r) => r.error),
  ]);
  return new Map(rows.map((row) => [row.outcome, row.n]));
}

const GIVE_BACK = statement(
  "give_back",
  `
WITH released AS (
  DELETE FROM claims WHERE claim_id = $1 RETURNING event_ids)
UPDATE events
   SET last_error = $3, available_at = now() + $4 * interval '1 millisecond'
 WHERE id = ANY($2::bigint[]) AND id IN (SELECT unnest(event_ids) FROM released) AND ${UNFINISHED}`,
);

/** Ends the claim and returns its events to the queue, due after `delayMs`; no attempt is spent. */
export async function giveBack(tx: Tx, lease: Lease, error: string, delayMs: number): Promise<void> {
  lockSteps(tx).enter("claims");
  lockSteps(tx).enter("events");
  await sql(tx, GIVE_BACK, [lease.claimId, lease.eventIds, error.slice(0, 2_000), Math.round(delayMs)]);
}

// The retry delay is fullJitterBackoff computed in SQL, where the attempt
// count is: $6 (a number from the injected random source) × min(cap, base·2^attempts).
const FAIL_ONE = statement(
  "fail_one",
  `
WITH failed AS (
  UPDATE events AS e
     SET attempts = e.attempts + 1,
         status = CASE WHEN e.attempts + 1 >= $4 THEN 'dead' ELSE 'pending' END,
         outcome = CASE WHEN e.attempts + 1 >= $4 THEN 'dead' END,
         processed_at = CASE WHEN e.attempts + 1 >= $4 THEN clock_timestamp() END,
         available_at = now() + $6 * least($7, $8 * power(2, e.attempts + 1)) * interval '1 millisecond',
         last_error = $5
   WHERE e.id = $3 AND ${UNFINISHED_E}
  RETURNING ${FINISHED}, e.attempts),
${RELEASE}
SELECT * FROM failed`,
);

export interface RetryDelay {
  /** A number in [0, 1) from the injected random source. */
  random: number;
  baseMs: number;
  capMs: number;
}

/**
 * Records a failed attempt of one claimed event: pending again after a
 * backoff, or dead once it has failed its last attempt (then returned, to be
 * counted). Returns null when the claim no longer holds the event.
 */
export async function failEvent(
  tx: Tx,
  lease: Pick<Lease, "claimId">,
  eventId: number,
  error: string,
  maxAttempts: number,
  delay: RetryDelay,
): Promise<{ attempts: number; dead: ProcessedEvent[] } | null> {
  const owned = await lockClaim(tx, { claimId: lease.claimId, eventIds: [eventId] });
  if (owned.length === 0) return null;
  lockSteps(tx).enter("events");
  const [row] = await sql<FinishedRow & { attempts: number }>(tx, FAIL_ONE, [
    lease.claimId,
    [eventId],
    eventId,
    maxAttempts,
    error.slice(0, 2_000),
    delay.random,
    delay.capMs,
    delay.baseMs,
  ]);
  return row ? { attempts: row.attempts, dead: processed([row]) } : null;
}

// SKIP LOCKED: the reaper never waits for a claim whose holder is applying it (the applying
// transaction holds its claim rows), and one that commits first has deleted its rows.
const REAP = statement(
  "reap",
  `
WITH expired AS (
  DELETE FROM claims
   WHERE (claim_id, tenant_id) IN (
     SELECT claim_id, tenant_id FROM claims
      WHERE lease_until < now()
      ORDER BY claim_id, tenant_id
      LIMIT $1
        FOR UPDATE SKIP LOCKED)
  RETURNING claim_id, event_ids)
UPDATE events AS e
   SET last_error = 'lease of claim ' || expired.claim_id || ' expired: the worker stopped, crashed or stalled mid-batch (no attempt spent)'
  FROM expired
 WHERE e.id = ANY (expired.event_ids) AND ${UNFINISHED_E}
RETURNING e.id`,
);

/** Ends up to `limit` expired claims (rows); returns how many events they returned to the queue. */
export async function reapExpired(tx: Tx, limit: number): Promise<number> {
  lockSteps(tx).enter("claims");
  lockSteps(tx).enter("events");
  return (await sql<{ id: number }>(tx, REAP, [limit])).length;
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

const IN_FLIGHT = statement(
  "claimed_events",
  "SELECT count(*)::int AS n FROM claims c CROSS JOIN LATERAL unnest(c.event_ids) AS x WHERE c.tenant_id = ANY($1::int[])",
);

/** How many events of these tenants claim rows list (in flight, or held by an expired lease not yet reaped). */
export async function claimedEventCount(tenantIds: readonly number[], on: Queryable = pool): Promise<number> {
  const [row] = await sql<{ n: number }>(on, IN_FLIGHT, [[...tenantIds]]);
  return row?.n ?? 0;
}
