/**
 * The items browser and an item's history ("why is this item in this state?").
 *
 * Listing pages by item id (keyset: `item_id > cursor`), so page 1,000 costs
 * what page 1 costs. Search matches an id prefix or a name prefix,
 * case-insensitively, both served by indexes (the primary key, and
 * items_name_search_idx). Tombstones are hidden unless asked for.
 */
import { z } from "zod";
import { pool, sql } from "../db.ts";

export const ZListItemsInput = z.object({
  search: z.string().trim().max(255).optional(),
  includeDeleted: z.boolean().default(false),
  cursor: z.string().max(255).nullish(),
  limit: z.number().int().min(1).max(200).default(50),
});
export type TListItemsInput = z.input<typeof ZListItemsInput>;

export interface ItemRow {
  id: string;
  version: number;
  deleted: boolean;
  name: string | null;
  category: string | null;
  value: number | null;
  updatedAt: Date;
}

/** `%` and `_` in a search are literal characters, not wildcards. */
function likePrefix(text: string): string {
  return `${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export async function listItems(tenantId: number, input: TListItemsInput): Promise<{ items: ItemRow[]; nextCursor: string | null }> {
  const { search, includeDeleted, cursor, limit } = ZListItemsInput.parse(input);
  const rows = await sql<ItemRow>(
    pool,
    `SELECT item_id AS id, version, deleted, name, category, value, updated_at AS "updatedAt"
       FROM items
      WHERE tenant_id = $1
        AND ($2::boolean OR NOT deleted)
        AND ($3::text IS NULL OR item_id COLLATE "C" > $3)
        AND ($4::text IS NULL OR item_id LIKE $4 OR lower(name) LIKE lower($4))
      ORDER BY item_id COLLATE "C"
      LIMIT $5`,
    [tenantId, includeDeleted, cursor ?? null, search ? likePrefix(search) : null, limit + 1],
  );
  const page = rows.slice(0, limit);
  return { items: page, nextCursor: rows.length > limit ? (page[page.length - 1] as ItemRow).id : null };
}

export interface ItemHistory {
  item: (ItemRow & { refs: string[]; winningEventId: string }) | null;
  events: {
    eventId: string;
    type: string;
    version: number;
    status: string;
    outcome: string | null;
    attempts: number;
    lastError: string | null;
    /** The x-request-id of the request that stored it (null for pulled events and rows older than the column). */
    requestId: string | null;
    receivedAt: Date;
    processedAt: Date | null;
  }[];
}

/** The item's current state and every event received for it, newest version first. */
export async function getItemHistory(tenantId: number, itemId: string): Promise<ItemHistory> {
  const [items, refs, events] = await Promise.all([
    sql<ItemRow & { winningEventId: string }>(
      pool,
      `SELECT item_id AS id, version, deleted, name, category, value, updated_at AS "updatedAt", event_id AS "winningEventId"
         FROM items WHERE tenant_id = $1 AND item_id = $2`,
      [tenantId, itemId],
    ),
    sql<{ ref_id: string }>(pool, `SELECT ref_id FROM item_refs WHERE tenant_id = $1 AND item_id = $2 ORDER BY ref_id COLLATE "C"`, [tenantId, itemId]),
    sql<ItemHistory["events"][number]>(
      pool,
      // An event a claim holds is shown as in flight ("processing"): the inbox keeps it pending until its attempt ends.
      `SELECT event_id AS "eventId", type, version,
              CASE WHEN e.status = 'pending' AND EXISTS (SELECT 1 FROM claims c WHERE c.tenant_id = e.tenant_id AND e.id = ANY (c.event_ids))
                   THEN 'processing' ELSE e.status END AS status,
              outcome, attempts, last_error AS "lastError", request_id AS "requestId",
              received_at AS "receivedAt", processed_at AS "processedAt"
         FROM events e WHERE tenant_id = $1 AND item_id = $2
        ORDER BY version DESC, received_at DESC
        LIMIT 500`,
      [tenantId, itemId],
    ),
  ]);
  const item = items[0];
  return { item: item ? { ...item, refs: refs.map((row) => row.ref_id) } : null, events };
}
