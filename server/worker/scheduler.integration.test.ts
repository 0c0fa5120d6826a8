/**
 * What one claim costs the database, counted rather than timed: the index
 * scans and rows it reads from the inbox (PostgreSQL's per-transaction
 * statistics, pg_stat_xact_user_tables). A claim must cost in proportion to
 * the tenants that have pending events and the events it takes, not to the
 * number of idle tenants, to another tenant's backlog, or to the events done
 * before a tenant's oldest pending one. (The time a claim
 * takes is a figure of `npm run bench -- fairness`.)
 */
import type { PoolClient } from "pg";
import { describe, expect, it } from "vitest";
import { pool, sql } from "../db.ts";
import { bulkPending } from "../../test/events.ts";
import { CLAIM } from "./inbox.ts";
import { MAX_TENANTS_PER_CLAIM } from "./scheduler.ts";

const IDLE_TENANTS = 2_000;
const WHALE_BACKLOG = 20_000;
const WHALE_DONE = 5_000;

interface ClaimReads {
  claimed: number;
  indexScans: number;
  rowsRead: number;
  ringRowsRead: number;
}

/** Index scans of and rows read from the inbox, and rows read from scheduler_state, so far in this transaction. */
async function counters(client: PoolClient): Promise<{ indexScans: number; rowsRead: number; ringRowsRead: number }> {
  const { rows } = await client.query<{ relname: string; index_scans: string; rows_read: string }>(
    `SELECT relname, coalesce(idx_scan, 0) AS index_scans, coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0) AS rows_read
       FROM pg_stat_xact_user_tables WHERE relname IN ('events', 'scheduler_state')`,
  );
  const of = (table: string) => rows.find((row) => row.relname === table);
  return { indexScans: Number(of("events")?.index_scans), rowsRead: Number(of("events")?.rows_read), ringRowsRead: Number(of("scheduler_state")?.rows_read) };
}

describe("the cost of a claim", () => {
  it("grows with the tenants that have pending events, not with idle tenants or a whale's backlog", async () => {
    await pool.query(`INSERT INTO tenants (slug, name, secret, updated_at) SELECT 'idle-' || g, 'idle', 'whsec_x', now() FROM generate_series(1, $1) AS g`, [
      IDLE_TENANTS,
    ]);
    const { rows: created } = await pool.query<{ id: number; slug: string }>(
      `INSERT INTO tenants (slug, name, secret, updated_at)
       VALUES ('finished', 'finished', 'whsec_x', now()), ('whale', 'whale', 'whsec_x', now()), ('small', 'small', 'whsec_x', now())
       RETURNING id, slug`,
    );
    await pool.query("INSERT INTO scheduler_state (tenant_id) SELECT id FROM tenants ON CONFLICT (tenant_id) DO NOTHING");
    const idOf = (slug: string) => created.find((row) => row.slug === slug)!.id;
    // A tenant below the whale in id order whose events are all done: "is another tenant pending?" must
    // probe the pending index for it, not read its events (a NOT EXISTS there was planned as a seq scan).
    await bulkPending(idOf("finished"), WHALE_BACKLOG);
    await pool.query("UPDATE events SET status = 'done', outcome = 'applied', processed_at = now() WHERE tenant_id = $1", [idOf("finished")]);
    await bulkPending(idOf("whale"), WHALE_BACKLOG);
    // The small tenant's one event comes after the whale's whole backlog in id order.
    await bulkPending(idOf("small"), 1);
    // Statistics taken while nearly every event is pending, as right after a whale's backlog
    // arrives; then the whale's oldest 5,000 are done, as after a while of processing.
    await pool.query("ANALYZE events");
    await pool.query(
      `UPDATE events SET status = 'done', outcome = 'applied', processed_at = now()
        WHERE id IN (SELECT id FROM events WHERE tenant_id = $1 ORDER BY id LIMIT $2)`,
      [idOf("whale"), WHALE_DONE],
    );

    // One session throughout: PL/pgSQL caches plans per session and, after five calls, may
    // switch a statement to a generic plan. Each claim is rolled back, so every call sees the
    // same inbox.
    const client = await pool.connect();
    const reads: ClaimReads[] = [];
    try {
      for (let call = 0; call < 10; call++) {
        await client.query("BEGIN");
        // The counters add up over the session until reported, so take the difference.
        const before = await counters(client);
        const claimed = await sql(client, CLAIM, [100, 500, 30_000, `cost-${call}`, MAX_TENANTS_PER_CLAIM]);
        const after = await counters(client);
        await client.query("ROLLBACK");
        reads.push({
          claimed: claimed.length,
          indexScans: after.indexScans - before.indexScans,
          rowsRead: after.rowsRead - before.rowsRead,
          ringRowsRead: after.ringRowsRead - before.ringRowsRead,
        });
      }
    } finally {
      client.release();
    }

    for (const call of reads) {
      // Whale's visit (100) and the small tenant's event, in whichever order the ring has them.
      expect(call.claimed).toBe(101);
      // One scan per claimed row (the UPDATE finds each by id) and a few per tenant with pending
      // events; probing each of the 2,000 idle tenants would add 2,000.
      expect(call.indexScans - call.claimed).toBeLessThan(40);
      // The 101 claimed rows, read a few times over. Walking the inbox in id order would read the
      // whale's 5,000 done events before its first pending one, and its 15,000 pending ones
      // before the small tenant's.
      expect(call.rowsRead).toBeLessThan(2_000);
      // The turns of the two tenants with pending events, not the whole ring of 2,002.
      expect(call.ringRowsRead).toBeLessThan(100);
    }
  });
});
