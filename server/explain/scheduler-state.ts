/**
 * Every read of the scheduler's state that an explanation needs, and nothing
 * else: the one module to adapt when that state moves (where leases live, how
 * the claim counts batches in flight). It reads and never writes.
 *
 * Guarantees:
 * - Each figure is read the way the claim (tidemark_claim, see
 *   prisma/migrations/20261127040000_claims_take_turns) decides on it:
 *   batches in flight are what it counts against max_concurrency; an event
 *   may be taken when it is pending, due (available_at ≤ now()) and held by
 *   no claim; the events ahead of one are the tenant's takeable events with a
 *   lower id (the claim takes the oldest first); the tenants ahead are those
 *   with takeable events earlier in ring order (turn, then tenant id).
 * - How claims are stored is known to five SQL fragments below and nowhere
 *   else in this module (nor in explain.ts, which reads only the types).
 * - One statement per shape, so an event's figures and its tenant's come each
 *   from one snapshot, on the database's clock (`now`).
 * - Only the tenant named is read (callers have checked access to it), apart
 *   from the count of other tenants ahead in the ring, which names none.
 */
import { pool, sql, statement, type Queryable } from "../db.ts";

/** Counting the events ahead of one stops here (a whale's backlog is not counted to its end). */
export const AHEAD_COUNT_CAP = 1_000_000;

/** The most waiting events of one item read at once. */
export const MAX_EVENTS_PER_ITEM = 100;

export interface EventLease {
  /** The claim id (claims.claim_id). */
  claimId: string;
  /** The worker process that holds it: the claim id without its random suffix (host:pid). */
  worker: string;
  until: Date;
  expired: boolean;
}

/** One pending or in-flight event, as the scheduler sees it. */
export interface WaitingEventState {
  eventId: string;
  itemId: string;
  /** "processing" while a claim holds it (live or expired, not yet reaped), else "pending". */
  status: "pending" | "processing";
  /** The attempt it is on while held, else the last one it made (0: none yet). */
  attempt: number;
  availableAt: Date;
  /** available_at ≤ now(): the claim may take it. */
  due: boolean;
  lease: EventLease | null;
  lastError: string | null;
  thin: boolean;
  receivedAt: Date;
  /** For a due pending event: the tenant's due pending events the claim takes before it (capped at AHEAD_COUNT_CAP); else null. */
  aheadInTenant: number | null;
}

/** The tenant's side of the scheduler, and of its edge. */
export interface TenantSchedulerState {
  tenantId: number;
  maxConcurrency: number;
  weight: number;
  /** Distinct live leases of the tenant: the number the claim compares with max_concurrency. */
  batchesInFlight: number;
  /** Other tenants with due pending events ahead of this one in ring order. */
  tenantsAheadInRing: number;
  /** Deliveries refused at the edge (429: rate limit or daily quota) in this minute and the one before (rollups). */
  refusedAtEdgeRecently: number;
  /** What the tenant's source (pull mode) waits for, if anything: its rate limit, its quota, or a backoff. */
  sourceWaitingFor: "rate" | "quota" | "backoff" | null;
  sourceNextFetchAt: Date | null;
  /** Whether the tenant has an item API, which thin events are fetched from. */
  hasItemApi: boolean;
  /** The database's clock when this was read. */
  now: Date;
}

// ── How claims are stored: the only part of this module that knows. ─────────────────────────────
// A claim inserts a `claims` row per tenant it serves, listing the events it took (event_ids) and
// its lease's end (lease_until); the events stay `pending` and are written once, when their
// attempt ends, which is when `attempts` is counted (tidemark_claim, server/worker/process.ts).
// If claims move again, these five fragments change and nothing else here does.

/** SQL: event `e` is waiting (not yet done or dead), whether or not a claim holds it. */
const EVENT_WAITING = "e.status = 'pending'";
/** SQL: the claim that holds event `e`, as columns claim_id and lease_until (both null when none does), and the join that needs. */
const EVENT_LEASE = {
  join: "LEFT JOIN LATERAL (SELECT c.claim_id, c.lease_until FROM claims c WHERE c.tenant_id = e.tenant_id AND e.id = ANY(c.event_ids) LIMIT 1) held ON true",
  columns: "held.claim_id AS claim_id, held.lease_until AS lease_until",
};
/** SQL: the attempt event `e` is on (held: one more than the attempts ended) or made last (not held: the attempts ended). */
const EVENT_ATTEMPT = "CASE WHEN held.claim_id IS NULL THEN e.attempts ELSE e.attempts + 1 END";
/** SQL: event `alias` may be taken by the next claim: pending, due, and listed by no claim row. */
const CLAIMABLE = (alias: string) =>
  `${alias}.status = 'pending' AND ${alias}.available_at <= now() AND NOT EXISTS (SELECT 1 FROM claims lc WHERE lc.tenant_id = ${alias}.tenant_id AND ${alias}.id = ANY(lc.event_ids))`;
/** SQL: tenant `t`'s batches in flight, as the claim counts them against max_concurrency: its live claim rows. */
const BATCHES_IN_FLIGHT = `(SELECT count(*)::int FROM claims c WHERE c.tenant_id = t.id AND c.lease_until > now())`;

// ── The reads, in terms of those fragments. ─────────────────────────────────────────────────────

const WAITING_EVENTS_SELECT = `
SELECT e.event_id, e.item_id, ${EVENT_ATTEMPT} AS attempt, e.available_at, e.available_at <= now() AS due,
       ${EVENT_LEASE.columns}, e.last_error, e.received_at, now() AS now,
       coalesce(e.payload->>'thin' = 'true', false) AS thin,
       CASE WHEN ${CLAIMABLE("e")} THEN
         -- As the claim reads a tenant's queue: the tenant as a range, ordered (tenant_id, id) on the pending index.
         (SELECT count(*)::int FROM (
            SELECT 1 FROM events p
             WHERE p.tenant_id BETWEEN e.tenant_id AND e.tenant_id AND ${CLAIMABLE("p")} AND p.id < e.id
             ORDER BY p.tenant_id, p.id
             LIMIT ${AHEAD_COUNT_CAP}) AS ahead)
       END AS ahead
  FROM events e ${EVENT_LEASE.join}`;

const WAITING_EVENTS_OF_ITEM = statement(
  "explain_waiting_events_of_item",
  `${WAITING_EVENTS_SELECT}
 WHERE e.tenant_id = $1 AND e.item_id = $2 AND ${EVENT_WAITING}
 ORDER BY e.id
 LIMIT ${MAX_EVENTS_PER_ITEM}`,
);

const WAITING_EVENT = statement(
  "explain_waiting_event",
  `${WAITING_EVENTS_SELECT}
 WHERE e.tenant_id = $1 AND e.event_id = $2 AND ${EVENT_WAITING}`,
);

const TENANT_STATE = statement(
  "explain_tenant_state",
  `
WITH RECURSIVE pending_tenants (tenant_id) AS (
  (SELECT e.tenant_id FROM events e WHERE e.status = 'pending' ORDER BY e.tenant_id LIMIT 1)
  UNION ALL
  SELECT (SELECT e.tenant_id FROM events e WHERE e.status = 'pending' AND e.tenant_id > p.tenant_id ORDER BY e.tenant_id LIMIT 1)
    FROM pending_tenants p
   WHERE p.tenant_id IS NOT NULL)
SELECT t.id AS tenant_id, t.max_concurrency, t.weight, now() AS now,
       ${BATCHES_IN_FLIGHT} AS batches_in_flight,
       (SELECT count(*)::int FROM pending_tenants p JOIN scheduler_state o ON o.tenant_id = p.tenant_id
         WHERE p.tenant_id IS NOT NULL AND p.tenant_id <> t.id
           AND (o.turn, o.tenant_id) < (coalesce(s.turn, 9223372036854775807), t.id)
           AND EXISTS (SELECT 1 FROM events d WHERE d.tenant_id BETWEEN p.tenant_id AND p.tenant_id AND ${CLAIMABLE("d")}
                        ORDER BY d.tenant_id, d.id LIMIT 1)) AS tenants_ahead,
       (SELECT coalesce(sum(r.rate_limited), 0)::int FROM rollup_counts r
         WHERE r.tenant_id = t.id AND r.resolution = 60 AND r.bucket >= date_trunc('minute', now()) - interval '1 minute') AS refused_recently,
       src.waiting_for, src.next_fetch_at, coalesce(src.item_url IS NOT NULL, false) AS has_item_api
  FROM tenants t
  LEFT JOIN scheduler_state s ON s.tenant_id = t.id
  LEFT JOIN sources src ON src.tenant_id = t.id
 WHERE t.id = $1`,
);

interface WaitingEventRow {
  event_id: string;
  item_id: string;
  attempt: number;
  available_at: Date;
  due: boolean;
  claim_id: string | null;
  lease_until: Date | null;
  last_error: string | null;
  received_at: Date;
  now: Date;
  thin: boolean;
  ahead: number | null;
}

/**
 * The worker that holds a claim: claim ids are `host:pid:random` (newClaimId in
 * server/worker/scheduler.ts; scheduler-state.test.ts checks the two agree).
 */
export function workerOfClaim(claimId: string): string {
  const cut = claimId.lastIndexOf(":");
  return cut > 0 ? claimId.slice(0, cut) : claimId;
}

function waitingEvent(row: WaitingEventRow): WaitingEventState {
  return {
    eventId: row.event_id,
    itemId: row.item_id,
    status: row.claim_id === null ? "pending" : "processing",
    attempt: row.attempt,
    availableAt: row.available_at,
    due: row.due,
    lease:
      row.claim_id !== null && row.lease_until !== null
        ? { claimId: row.claim_id, worker: workerOfClaim(row.claim_id), until: row.lease_until, expired: row.lease_until.getTime() <= row.now.getTime() }
        : null,
    lastError: row.last_error,
    thin: row.thin,
    receivedAt: row.received_at,
    aheadInTenant: row.ahead,
  };
}

/** The item's pending and in-flight events (oldest first, at most MAX_EVENTS_PER_ITEM). */
export async function readWaitingEventsOfItem(tenantId: number, itemId: string, on: Queryable = pool): Promise<WaitingEventState[]> {
  return (await sql<WaitingEventRow>(on, WAITING_EVENTS_OF_ITEM, [tenantId, itemId])).map(waitingEvent);
}

/** One event by its event id, or null when it is not waiting (done, dead, or unknown). */
export async function readWaitingEvent(tenantId: number, eventId: string, on: Queryable = pool): Promise<WaitingEventState | null> {
  const [row] = await sql<WaitingEventRow>(on, WAITING_EVENT, [tenantId, eventId]);
  return row ? waitingEvent(row) : null;
}

/** The tenant's scheduler and edge state; throws for an unknown tenant. */
export async function readTenantSchedulerState(tenantId: number, on: Queryable = pool): Promise<TenantSchedulerState> {
  const [row] = await sql<{
    tenant_id: number;
    max_concurrency: number;
    weight: number;
    now: Date;
    batches_in_flight: number;
    tenants_ahead: number;
    refused_recently: number;
    waiting_for: "rate" | "quota" | "backoff" | null;
    next_fetch_at: Date | null;
    has_item_api: boolean;
  }>(on, TENANT_STATE, [tenantId]);
  if (!row) throw new Error(`no tenant ${tenantId}`);
  return {
    tenantId: row.tenant_id,
    maxConcurrency: row.max_concurrency,
    weight: row.weight,
    batchesInFlight: row.batches_in_flight,
    tenantsAheadInRing: row.tenants_ahead,
    refusedAtEdgeRecently: row.refused_recently,
    sourceWaitingFor: row.waiting_for,
    sourceNextFetchAt: row.waiting_for === null ? null : row.next_fetch_at,
    hasItemApi: row.has_item_api,
    now: row.now,
  };
}
