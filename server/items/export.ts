/**
 * Streams a tenant's items in item-id order, for `tidemark items export`.
 *
 * Guarantees: memory stays bounded by one page whatever the tenant's size
 * (keyset pagination on the primary key, `item_id > last ORDER BY item_id
 * LIMIT n`, so every page is an index range scan and no page costs more than
 * the first); each item is yielded exactly once; and all pages read one
 * snapshot (a REPEATABLE READ READ ONLY transaction on one connection), so an
 * export taken while events are being applied is a state the tenant really
 * had, not a mix of before and after. Tombstones are included only on request.
 */
import { pool, sql } from "../db.ts";
import type { ItemRow } from "./browse.ts";

/** An item as the browser lists it, without its update time, and with its references. */
export interface ExportedItem extends Omit<ItemRow, "updatedAt"> {
  /** The item's references, sorted. */
  refs: string[];
}

export interface ExportOptions {
  includeDeleted?: boolean;
  /** Items per query; bounds memory and the length of each query. */
  pageSize?: number;
}

export const DEFAULT_EXPORT_PAGE_SIZE = 1_000;

// The refs subquery runs once per item of the page, on item_refs' primary key.
const PAGE = `
SELECT i.item_id AS id, i.version, i.deleted, i.name, i.category, i.value,
       ARRAY(SELECT r.ref_id FROM item_refs r
              WHERE r.tenant_id = i.tenant_id AND r.item_id = i.item_id
              ORDER BY r.ref_id) AS refs
  FROM items i
 WHERE i.tenant_id = $1 AND i.item_id > $2 AND ($3 OR NOT i.deleted)
 ORDER BY i.item_id
 LIMIT $4`;

export async function* exportItems(tenantId: number, options: ExportOptions = {}): AsyncGenerator<ExportedItem> {
  const pageSize = options.pageSize ?? DEFAULT_EXPORT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new RangeError(`pageSize must be a positive integer, got ${pageSize}`);
  const includeDeleted = options.includeDeleted ?? false;

  const client = await pool.connect();
  let open = false;
  let discard = false;
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    open = true;
    // The snapshot stays open while the consumer reads at its own pace (stdout with backpressure), so the
    // pool's idle-in-transaction timeout does not apply: a read-only transaction holds no row locks.
    await client.query("SET LOCAL idle_in_transaction_session_timeout = 0");
    // Item ids are at least one character long, so every id sorts after "".
    let after = "";
    for (;;) {
      const page = await sql<ExportedItem>(client, PAGE, [tenantId, after, includeDeleted, pageSize]);
      yield* page;
      if (page.length < pageSize) break;
      after = (page[page.length - 1] as ExportedItem).id;
    }
    await client.query("COMMIT");
    open = false;
  } finally {
    // Still open after a failed query, or when the consumer stopped iterating early.
    if (open) {
      await client.query("ROLLBACK").catch(() => {
        discard = true;
      });
    }
    client.release(discard);
  }
}
