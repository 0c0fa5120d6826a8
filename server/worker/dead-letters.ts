/**
 * Dead letters: events that failed their last attempt. They keep their
 * payload and error, are listed per tenant, and can be replayed: back to
 * pending with fresh attempts, and out of the rollups (replaying counts them
 * again when they finish), in one transaction (the statement is the inbox's,
 * inbox.ts).
 */
import { retractDead } from "../stats/rollups.ts";
import { invalidateSeries } from "../stats/series.ts";
import { pool, sql, transaction } from "../db.ts";
import { replayDeadEvents } from "./inbox.ts";
import type { EventType } from "../core/event.ts";
import { signalNewEvents } from "../lib/wake.ts";

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

/** Replays the tenant's dead events (all, or those with the given event ids); returns how many. */
export async function replayDead(tenantId: number, eventIds?: readonly string[]): Promise<number> {
  const replayed = await transaction(async (tx) => {
    const events = await replayDeadEvents(tx, tenantId, eventIds);
    await retractDead(tx, events);
    return events;
  });
  if (replayed.length > 0) {
    // After the commit: the retracted counts sit in past buckets, which the dashboard may have cached.
    await invalidateSeries(
      tenantId,
      replayed.flatMap((event) => [event.receivedAt, event.processedAt]),
    );
    signalNewEvents();
  }
  return replayed.length;
}
