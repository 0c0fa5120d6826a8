/**
 * Helpers for core and worker tests: item histories, storing them in the
 * inbox the way ingestion does (server/ingest/store-events.ts), and reading
 * item state back in the model's shape.
 */
import { randomBytes } from "node:crypto";
import { pool } from "../server/db.ts";
import { itemStateOf, type ItemState } from "../server/core/model.ts";
import type { TEventBody } from "../server/core/event.ts";
import { canonicalJson, sha256 } from "../server/lib/canonical-json.ts";
import { storeEvents } from "../server/ingest/store-events.ts";

export interface TestEvent {
  eventId: string;
  body: TEventBody;
}

export function event(
  eventId: string,
  type: TEventBody["type"],
  itemId: string,
  version: number,
  extra: { name?: string; value?: number; refs?: string[] } = {},
): TestEvent {
  const data =
    type === "item.deleted" ? { id: itemId, version } : { id: itemId, version, name: extra.name ?? null, value: extra.value ?? null, refs: extra.refs ?? [] };
  return { eventId, body: { type, timestamp: "2026-11-27T10:00:00Z", data } as TEventBody };
}

/** Stores events in the inbox (as pending) through the ingestion code path. */
export async function storeInInbox(tenantId: number, events: TestEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 1_000) {
    const chunk = events.slice(i, i + 1_000).map((e) => ({ eventId: e.eventId, body: e.body, payloadHash: sha256(canonicalJson(e.body)) }));
    await storeEvents(tenantId, chunk);
  }
}

/**
 * Leases the tenant's pending events whose event id starts with `eventIdPrefix` to a made-up
 * worker, as a claim does (one claims row listing them; the events stay pending), for an hour.
 */
export async function leaseInTest(tenantId: number, eventIdPrefix: string): Promise<void> {
  await pool.query(
    `INSERT INTO claims (claim_id, tenant_id, worker, event_ids, lease_until)
     SELECT 'test-worker:' || $2, $1, 'test-worker', array_agg(id ORDER BY id), now() + interval '1 hour'
       FROM events WHERE tenant_id = $1 AND status = 'pending' AND starts_with(event_id, $2)`,
    [tenantId, eventIdPrefix],
  );
}

/** Fast bulk load for large backlogs: n created events for n distinct items. */
export async function bulkPending(tenantId: number, count: number, prefix = randomBytes(3).toString("hex")): Promise<void> {
  await pool.query(
    `INSERT INTO events (tenant_id, event_id, type, item_id, version, payload, payload_hash, source_timestamp)
     SELECT $1, $2 || '-' || g, 'item.created', $2 || '-item-' || g, 1,
            jsonb_build_object('type', 'item.created', 'timestamp', '2026-11-27T10:00:00Z',
                               'data', jsonb_build_object('id', $2 || '-item-' || g, 'version', 1)),
            sha256(('e' || g)::bytea), now()
       FROM generate_series(1, $3) AS g`,
    [tenantId, prefix, count],
  );
}

export type StoredItem = Pick<ItemState, "itemId" | "version" | "typeRank" | "eventId" | "deleted" | "name" | "category" | "value" | "refs">;

export async function readItems(tenantId: number): Promise<Map<string, StoredItem>> {
  const { rows } = await pool.query<{
    item_id: string;
    version: number;
    type_rank: number;
    event_id: string;
    deleted: boolean;
    name: string | null;
    category: string | null;
    value: number | null;
    refs: string[];
  }>(
    `SELECT i.item_id, i.version, i.type_rank, i.event_id, i.deleted, i.name, i.category, i.value,
            coalesce(array_agg(r.ref_id ORDER BY r.ref_id COLLATE "C") FILTER (WHERE r.ref_id IS NOT NULL), '{}') AS refs
       FROM items i LEFT JOIN item_refs r ON r.tenant_id = i.tenant_id AND r.item_id = i.item_id
      WHERE i.tenant_id = $1
      GROUP BY i.tenant_id, i.item_id`,
    [tenantId],
  );
  return new Map(
    rows.map((row) => [
      row.item_id,
      {
        itemId: row.item_id,
        version: row.version,
        typeRank: row.type_rank,
        eventId: row.event_id,
        deleted: row.deleted,
        name: row.name,
        category: row.category,
        value: row.value,
        refs: row.refs,
      },
    ]),
  );
}

/** The model's state in the stored shape, for deep equality. */
export function asStored(states: Map<string, ItemState>): Map<string, StoredItem> {
  return new Map(
    [...states].map(([id, s]) => [
      id,
      {
        itemId: s.itemId,
        version: s.version,
        typeRank: s.typeRank,
        eventId: s.eventId,
        deleted: s.deleted,
        name: s.name,
        category: s.category,
        value: s.value,
        refs: s.refs,
      },
    ]),
  );
}

export { itemStateOf };
