/**
 * Dead letters: events that failed their last attempt. They keep their
 * payload and error, are listed per tenant, and can be replayed: back to
 * pending with fresh attempts, and out of the rollups (replaying counts them
 * again when they finish), in one transaction.
 */
import { lockSteps } from "../core/lock-order.ts";
import { retractDead } from "../core/rollups.ts";
import { pool, sql, transaction } from "../db.ts";
import type { EventType } from "../ingest/envelope.ts";
import { signalNewEvents } from "./wake.ts";

export interface DeadEvent {
  id: number;
  eventId: string;
  type: EventType;
  itemId: string;
  attempts: number;
  lastError: string | null;
  receivedAt: Date;
  processedAt: Date;
}

export async function listDead(tenantId: number, options: { limit?: number; afterId?: number } = {}): Promise<DeadEvent[]> {
  return sql<DeadEvent>(
      pool,
      `SELECT id, event_id AS "eventId", type, item_id AS "itemId", attempts, last_error AS "lastError",
              received_at AS "receivedAt", processed_at AS "processedAt"
         FROM events
        WHERE tenant_id = $1 AND status = 'dead' AND id > $2
        ORDER BY id
        LIMIT $3`,
      [tenantId, options.afterId ?? 0, Math.min(options.limit ?? 100, 1_000)],
  );
}

const REPLAY = `
WITH dead AS (
  SELECT id, type, received_at, processed_at FROM events
   WHERE tenant_id = $1 AND status = 'dead' AND ($2::text[] IS NULL OR event_id = ANY($2::text[]))
   ORDER BY id
     FOR UPDATE)
UPDATE events AS e
   SET status = 'pending', outcome = NULL, processed_at = NULL, attempts = 0, available_at = now()
  FROM dead
 WHERE e.id = dead.id
RETURNING e.tenant_id, dead.type, dead.received_at, dead.processed_at`;

/** Replays the tenant's dead events (all, or those with the given event ids); returns how many. */
export async function replayDead(tenantId: number, eventIds?: readonly string[]): Promise<number> {
  const replayed = await transaction(async (tx) => {
    lockSteps(tx).enter("events");
    const rows = await sql<{ tenant_id: number; type: EventType; received_at: Date; processed_at: Date }>(tx, REPLAY, [
      tenantId,
      eventIds ? [...eventIds] : null,
    ]);
    await retractDead(
      tx,
      rows.map((row) => ({ tenantId: row.tenant_id, type: row.type, receivedAt: row.received_at, processedAt: row.processed_at })),
    );
    return rows.length;
  });
  if (replayed > 0) signalNewEvents();
  return replayed;
}
