/**
 * Durable, idempotent storage of accepted events in the inbox.
 *
 * Guarantees:
 * - One INSERT … ON CONFLICT DO NOTHING per call: every new event of the call
 *   is committed together or not at all, and storage alone decides what is
 *   new (no check-then-insert). When this resolves, the rows are committed.
 * - An id already stored with the same payload hash is a `duplicate`, with a
 *   different hash a `conflict`; neither changes the stored row. Repeats of a
 *   (tenant, id) inside one call compare against its first occurrence, which
 *   is exactly what the same posts made one after another would get.
 * - Rows are inserted in (tenant, event id) order, so two concurrent calls
 *   that share ids (a batch, a group commit of single events) wait on each
 *   other in the same order and cannot deadlock.
 * - One call may hold events of several tenants (storeRows, for the group
 *   commit); storeEvents is the one-tenant form the batch endpoint uses.
 */
import { pool, type Queryable, sql, statement } from "../db.ts";
import { metrics } from "../metrics.ts";
import type { ValidEvent } from "./envelope.ts";

export type StoreOutcome = "accepted" | "duplicate" | "conflict";

export interface StoreRow {
  tenantId: number;
  event: ValidEvent;
}

const INSERT_EVENTS = statement(
  "insert_events_v3",
  `
INSERT INTO events (tenant_id, event_id, type, item_id, version, payload, payload_hash, source_timestamp, request_id)
SELECT e.tenant_id, e.event_id, e.type, e.item_id, e.version, e.payload, decode(e.payload_hash, 'hex'), e.source_timestamp, e.request_id
  FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::jsonb[], $7::text[], $8::timestamptz[], $9::text[])
       AS e(tenant_id, event_id, type, item_id, version, payload, payload_hash, source_timestamp, request_id)
 ORDER BY e.tenant_id, e.event_id
    ON CONFLICT (tenant_id, event_id) DO NOTHING
RETURNING tenant_id, event_id`,
);

const STORED_HASHES = statement(
  "stored_hashes_v2",
  `
SELECT ev.tenant_id, ev.event_id, encode(ev.payload_hash, 'hex') AS payload_hash
  FROM events ev
  JOIN unnest($1::int[], $2::text[]) AS k(tenant_id, event_id) ON ev.tenant_id = k.tenant_id AND ev.event_id = k.event_id`,
);

export const keyOf = (tenantId: number, eventId: string) => `${tenantId}\u0000${eventId}`;

function hashHex(event: ValidEvent): string {
  return event.payloadHash.toString("hex");
}

/** The first row of each (tenant, event id), in input order: what one INSERT may hold. */
export function firstOccurrences(rows: readonly StoreRow[]): Map<string, StoreRow> {
  const firstByKey = new Map<string, StoreRow>();
  for (const row of rows) {
    const key = keyOf(row.tenantId, row.event.eventId);
    if (!firstByKey.has(key)) firstByKey.set(key, row);
  }
  return firstByKey;
}

/** The INSERT: one statement, so one transaction; returns the keys it inserted (committed when it resolves, on the pool). */
export async function insertNew(unique: readonly StoreRow[], on: Queryable = pool): Promise<Set<string>> {
  const inserted = await sql<{ tenant_id: number; event_id: string }>(on, INSERT_EVENTS, [
    unique.map((row) => row.tenantId),
    unique.map((row) => row.event.eventId),
    unique.map((row) => row.event.body.type),
    unique.map((row) => row.event.body.data.id),
    unique.map((row) => row.event.body.data.version),
    unique.map((row) => row.event.payload ?? JSON.stringify(row.event.body)),
    unique.map((row) => hashHex(row.event)),
    unique.map((row) => row.event.body.timestamp),
    unique.map((row) => row.event.requestId ?? null),
  ]);
  metrics.eventsStored.inc(inserted.length);
  return new Set(inserted.map((row) => keyOf(row.tenant_id, row.event_id)));
}

/** The stored payload hash of each of `rows` (those the INSERT found already there), by key. */
export async function storedHashes(rows: readonly StoreRow[], on: Queryable = pool): Promise<Map<string, string>> {
  const storedHash = new Map<string, string>();
  if (rows.length === 0) return storedHash;
  const found = await sql<{ tenant_id: number; event_id: string; payload_hash: string }>(on, STORED_HASHES, [
    rows.map((row) => row.tenantId),
    rows.map((row) => row.event.eventId),
  ]);
  for (const row of found) storedHash.set(keyOf(row.tenant_id, row.event_id), row.payload_hash);
  return storedHash;
}

/**
 * Each row's outcome: the first occurrence of a key that was inserted is
 * accepted; a repeat of it compares with that first occurrence; a key that
 * was already stored compares with the stored hash.
 */
export function outcomesOf(
  rows: readonly StoreRow[],
  firstByKey: ReadonlyMap<string, StoreRow>,
  insertedKeys: ReadonlySet<string>,
  storedHash: ReadonlyMap<string, string>,
): StoreOutcome[] {
  const seen = new Set<string>();
  return rows.map((row) => {
    const key = keyOf(row.tenantId, row.event.eventId);
    const repeatInCall = seen.has(key);
    seen.add(key);
    if (!repeatInCall && insertedKeys.has(key)) return "accepted";
    const reference = repeatInCall && insertedKeys.has(key) ? hashHex((firstByKey.get(key) as StoreRow).event) : storedHash.get(key);
    return reference === hashHex(row.event) ? "duplicate" : "conflict";
  });
}

/** Stores `rows`; returns one outcome per input, in input order. */
export async function storeRows(rows: readonly StoreRow[], on: Queryable = pool): Promise<StoreOutcome[]> {
  const firstByKey = firstOccurrences(rows);
  const unique = [...firstByKey.values()];
  if (unique.length === 0) return [];
  const insertedKeys = await insertNew(unique, on);
  const hashes = await storedHashes(
    unique.filter((row) => !insertedKeys.has(keyOf(row.tenantId, row.event.eventId))),
    on,
  );
  return outcomesOf(rows, firstByKey, insertedKeys, hashes);
}

/** Stores `events` for `tenantId`; returns one outcome per input, in input order. */
export async function storeEvents(tenantId: number, events: readonly ValidEvent[], on: Queryable = pool): Promise<StoreOutcome[]> {
  return storeRows(
    events.map((event) => ({ tenantId, event })),
    on,
  );
}
