/**
 * A tenant's backlog in the event inbox, for `tidemark backlog` and
 * dashboards: how many events wait, are leased, or are dead, and how long the
 * oldest waiting one has waited.
 *
 * Each count's predicate is exactly a partial index's (events_pending_idx,
 * events_processing_idx, events_dead_idx), so each is a scan of that tenant's
 * slice of a small index and never touches done events, which are the bulk of
 * the table. One statement, so all four numbers come from one snapshot, and
 * the age is measured on the database's clock, the one received_at was
 * stamped with.
 */
import { pool, sql, type Queryable } from "../db.ts";

export interface Backlog {
  pending: number;
  processing: number;
  dead: number;
  /** Milliseconds since the oldest pending event was received; null when nothing is pending. */
  oldestPendingAgeMs: number | null;
}

const BACKLOG = `
SELECT p.pending, p.oldest_pending_age_ms,
       (SELECT count(*) FROM events WHERE tenant_id = $1 AND status = 'processing') AS processing,
       (SELECT count(*) FROM events WHERE tenant_id = $1 AND status = 'dead') AS dead
  FROM (SELECT count(*) AS pending,
               floor(extract(epoch FROM now() - min(received_at)) * 1000)::bigint AS oldest_pending_age_ms
          FROM events WHERE tenant_id = $1 AND status = 'pending') AS p`;

export async function getBacklog(tenantId: number, on: Queryable = pool): Promise<Backlog> {
  const [row] = await sql<{ pending: number; processing: number; dead: number; oldest_pending_age_ms: number | null }>(on, BACKLOG, [tenantId]);
  if (!row) throw new Error("the backlog query returned no row");
  return {
    pending: row.pending,
    processing: row.processing,
    dead: row.dead,
    // now() is the transaction's start; a row received later in a long transaction must not read as negative.
    oldestPendingAgeMs: row.oldest_pending_age_ms === null ? null : Math.max(0, row.oldest_pending_age_ms),
  };
}
