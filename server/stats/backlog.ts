/**
 * Tenants' backlogs in the event inbox, for `tidemark backlog`, the overview
 * and the tenant page: how many events wait, are leased (listed by a claims
 * row: still `pending` in the inbox until their attempt ends), or are dead,
 * and how long the oldest unfinished one has waited (leased or not).
 *
 * Each count's predicate is exactly a partial index's (events_pending_idx,
 * events_dead_idx), or reads the tenant's few claims rows, so each is a scan
 * of that tenant's slice of a small index and never touches done events, the
 * bulk of the table. The oldest pending event is the one with the lowest id (ids are
 * handed out in arrival order), read as one index entry rather than by
 * scanning every pending row: a whale's million pending events cost no more
 * than a small tenant's ten. One statement, so every number comes from one
 * snapshot, and ages are measured on the database's clock, the one
 * received_at was stamped with.
 */
import { pool, sql, type Queryable } from "../db.ts";

export interface Backlog {
  pending: number;
  processing: number;
  dead: number;
  /** Milliseconds since the oldest pending event was received; null when nothing is pending. */
  oldestPendingAgeMs: number | null;
}

/** One row per tenant in $1: tenant_id, pending, processing, dead, oldest_pending_age_ms. */
export const BACKLOGS = `
SELECT b.tenant_id, b.pending - b.processing AS pending, b.processing, b.dead, b.oldest_pending_age_ms
  FROM (
SELECT t.id AS tenant_id,
       (SELECT count(*) FROM events e WHERE e.tenant_id = t.id AND e.status = 'pending')::int AS pending,
       (SELECT coalesce(sum(cardinality(c.event_ids)), 0) FROM claims c WHERE c.tenant_id = t.id)::int AS processing,
       (SELECT count(*) FROM events e WHERE e.tenant_id = t.id AND e.status = 'dead')::int AS dead,
       -- now() is the transaction's start: an event received later must not read as negative.
       -- The tenant as a range and the order (tenant_id, id), so that only the pending index can
       -- answer (see prisma/migrations/20261127040000_claims_take_turns, point 4).
       (SELECT greatest(0, floor(extract(epoch FROM now() - e.received_at) * 1000))::float8
          FROM events e WHERE e.tenant_id BETWEEN t.id AND t.id AND e.status = 'pending'
         ORDER BY e.tenant_id, e.id LIMIT 1) AS oldest_pending_age_ms
  FROM tenants t
 WHERE t.id = ANY($1::int[])) AS b`;

export async function getBacklogs(tenantIds: readonly number[], on: Queryable = pool): Promise<Map<number, Backlog>> {
  if (tenantIds.length === 0) return new Map();
  const rows = await sql<{ tenant_id: number; pending: number; processing: number; dead: number; oldest_pending_age_ms: number | null }>(on, BACKLOGS, [
    [...tenantIds],
  ]);
  return new Map(
    rows.map((row) => [row.tenant_id, { pending: row.pending, processing: row.processing, dead: row.dead, oldestPendingAgeMs: row.oldest_pending_age_ms }]),
  );
}

export async function getBacklog(tenantId: number, on: Queryable = pool): Promise<Backlog> {
  const backlog = (await getBacklogs([tenantId], on)).get(tenantId);
  if (!backlog) throw new Error(`no tenant ${tenantId}`);
  return backlog;
}

/**
 * The received_at of the tenant's oldest event that has not reached an
 * outcome (pending or in flight), or null when there is none: every rollup
 * bucket that ends before it can only change by a replay or a deletion, both
 * of which invalidate what was cached of it (series.ts).
 */
export async function oldestUnfinishedReceivedAt(tenantId: number, on: Queryable = pool): Promise<Date | null> {
  const [row] = await sql<{ oldest: Date | null }>(
    on,
    // Leased events are pending in the inbox too (claims rows list them), so the pending index answers for both.
    `SELECT (SELECT e.received_at FROM events e WHERE e.tenant_id BETWEEN $1 AND $1 AND e.status = 'pending' ORDER BY e.tenant_id, e.id LIMIT 1) AS oldest`,
    [tenantId],
  );
  return row?.oldest ?? null;
}
