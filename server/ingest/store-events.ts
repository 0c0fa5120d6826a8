/**
 * Durable, idempotent storage of accepted events in the inbox.
 *
 * Guarantees:
 * - One INSERT … ON CONFLICT DO NOTHING per call: every new event of the call
 *   is committed together or not at all, and storage alone decides what is
 *   new (no check-then-insert). When this resolves, the rows are committed.
 * - An id already stored with the same payload hash is a `duplicate`, with a
 *   different hash a `conflict`; neither changes the stored row. Repeats of an
 *   id inside one call compare against its first occurrence.
 * - Rows are inserted in event-id order, so two concurrent calls that share
 *   ids wait on each other in the same order and cannot deadlock.
 */
import { pool, type Queryable, sql, statement } from "../db.ts";
import { metrics } from "../metrics.ts";
import type { ValidEvent } from "./envelope.ts";

export type StoreOutcome = "accepted" | "duplicate" | "conflict";

const INSERT_EVENTS = statement(
  "insert_events",
  `
INSERT INTO events (tenant_id, event_id, type, item_id, version, payload, payload_hash, source_timestamp)
SELECT $1, e.event_id, e.type, e.item_id, e.version, e.payload, decode(e.payload_hash, 'hex'), e.source_timestamp
  FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::jsonb[], $7::text[], $8::timestamptz[])
       AS e(event_id, type, item_id, version, payload, payload_hash, source_timestamp)
 ORDER BY e.event_id
    ON CONFLICT (tenant_id, event_id) DO NOTHING
RETURNING event_id`,
);

const STORED_HASHES = statement(
  "stored_hashes",
  `
SELECT event_id, encode(payload_hash, 'hex') AS payload_hash
  FROM events
 WHERE tenant_id = $1 AND event_id = ANY($2::text[])`,
);

/** Stores `events` for `tenantId`; returns one outcome per input, in input order. */
export async function storeEvents(tenantId: number, events: readonly ValidEvent[], on: Queryable = pool): Promise<StoreOutcome[]> {
  const firstById = new Map<string, ValidEvent>();
  for (const event of events) if (!firstById.has(event.eventId)) firstById.set(event.eventId, event);
  const unique = [...firstById.values()];
  if (unique.length === 0) return [];

  const inserted = await sql<{ event_id: string }>(on, INSERT_EVENTS, [
    tenantId,
    unique.map((event) => event.eventId),
    unique.map((event) => event.body.type),
    unique.map((event) => event.body.data.id),
    unique.map((event) => event.body.data.version),
    unique.map((event) => JSON.stringify(event.body)),
    unique.map((event) => event.payloadHash.toString("hex")),
    unique.map((event) => event.body.timestamp),
  ]);
  metrics.eventsStored.inc(inserted.length);
  const insertedIds = new Set(inserted.map((row) => row.event_id));

  // Ids that were already there: their stored hash tells duplicate from conflict.
  const existingIds = unique.filter((event) => !insertedIds.has(event.eventId)).map((event) => event.eventId);
  const storedHash = new Map<string, string>();
  if (existingIds.length > 0) {
    const rows = await sql<{ event_id: string; payload_hash: string }>(on, STORED_HASHES, [tenantId, existingIds]);
    for (const row of rows) storedHash.set(row.event_id, row.payload_hash);
  }

  const seen = new Set<string>();
  return events.map((event) => {
    const first = firstById.get(event.eventId) as ValidEvent;
    const repeatInCall = seen.has(event.eventId);
    seen.add(event.eventId);
    if (!repeatInCall && insertedIds.has(event.eventId)) return "accepted";
    const reference = repeatInCall && insertedIds.has(event.eventId) ? first.payloadHash.toString("hex") : storedHash.get(event.eventId);
    return reference === event.payloadHash.toString("hex") ? "duplicate" : "conflict";
  });
}
