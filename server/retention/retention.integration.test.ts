/**
 * Retention on a real PostgreSQL: old processed events go in batches, rollups
 * stay, pending/processing/dead events are never removed, each tenant keeps
 * its own window, one process runs a round at a time, and a late event older
 * than the tombstone horizon is stale by rule instead of bringing a forgotten
 * item back.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { BEYOND_HORIZON } from "../core/apply.ts";
import { event, leaseInTest, readItems, storeInInbox } from "../../test/events.ts";
import { claimedEventCount } from "../worker/inbox.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { processAll } from "../../test/worker.ts";
import { updateQuotas } from "../tenants/service.ts";
import { RETENTION_LOCK_KEY, runRetention, type RetentionOptions } from "./retention.ts";

const NOW_ISH = () => new Date().toISOString();
const options: RetentionOptions = { batchSize: 1_000, maxBatches: 100, tombstoneGraceMs: 0 };

/** n done events received `daysAgo` days ago, with status as given ("processing": pending and leased to a claim). */
async function oldEvents(tenantId: number, count: number, daysAgo: number, status: "done" | "pending" | "processing" | "dead", tag: string): Promise<void> {
  await pool.query(
    `INSERT INTO events (tenant_id, event_id, type, item_id, version, payload, payload_hash, source_timestamp, received_at,
                         status, outcome, processed_at)
     SELECT $1, $2 || '-' || g, 'item.created', $2 || '-item-' || g, 1,
            jsonb_build_object('type', 'item.created', 'timestamp', '2026-11-27T10:00:00Z', 'data', jsonb_build_object('id', $2 || '-item-' || g, 'version', 1)),
            sha256(('e' || g)::bytea), now(), now() - make_interval(days => $4),
            CASE $5 WHEN 'processing' THEN 'pending' ELSE $5 END, CASE $5 WHEN 'done' THEN 'applied' WHEN 'dead' THEN 'dead' END,
            CASE WHEN $5 IN ('done', 'dead') THEN now() - make_interval(days => $4) END
       FROM generate_series(1, $3) AS g`,
    [tenantId, tag, count, daysAgo, status],
  );
  if (status === "processing") await leaseInTest(tenantId, `${tag}-`);
}

async function countByStatus(tenantId: number): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM events WHERE tenant_id = $1 GROUP BY status`, [
    tenantId,
  ]);
  return Object.fromEntries(rows.map((row) => [row.status, row.n]));
}

async function rollupSnapshot(): Promise<unknown[]> {
  const counts = await pool.query(`SELECT * FROM rollup_counts ORDER BY tenant_id, resolution, bucket`);
  const latency = await pool.query(`SELECT * FROM rollup_latency ORDER BY tenant_id, resolution, bucket, bin`);
  return [counts.rows, latency.rows];
}

/** Makes a tenant's tombstones look `daysAgo` days old (as if deleted then). */
async function ageTombstones(tenantId: number, daysAgo: number): Promise<void> {
  await pool.query(`UPDATE items SET updated_at = now() - make_interval(days => $2) WHERE tenant_id = $1 AND deleted`, [tenantId, daysAgo]);
}

let lockHolder: pg.Client;
beforeAll(async () => {
  lockHolder = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await lockHolder.connect();
});
afterAll(async () => lockHolder.end());

describe("retention of raw events", () => {
  it("removes processed events older than the tenant's window in batches, keeps pending, processing, dead and recent ones, and leaves rollups alone", async () => {
    const tenant = await createTestTenant();
    expect(tenant.retentionDays).toBe(30);
    // Real rollups first: processed through the worker, so the snapshot has rows to compare.
    await storeInInbox(tenant.id, [event("r-1", "item.created", "rolled", 1)]);
    await processAll();
    await oldEvents(tenant.id, 2_500, 40, "done", "old");
    await oldEvents(tenant.id, 7, 40, "pending", "old-pending");
    await oldEvents(tenant.id, 3, 40, "processing", "old-processing");
    await oldEvents(tenant.id, 5, 40, "dead", "old-dead");
    await oldEvents(tenant.id, 11, 29, "done", "recent");
    const rollupsBefore = await rollupSnapshot();

    // Two statements of 1,000 at most in this round: batching is real, the rest waits for the next round.
    const first = await runRetention({ ...options, maxBatches: 2 });
    expect(first?.eventsRemoved).toBe(2_000);
    expect((await countByStatus(tenant.id)).done).toBe(1 + 500 + 11);
    const second = await runRetention(options);
    expect(second?.eventsRemoved).toBe(500);
    expect(await countByStatus(tenant.id)).toEqual({ done: 1 + 11, pending: 7 + 3, dead: 5 });
    expect(await claimedEventCount([tenant.id])).toBe(3);
    expect(await rollupSnapshot()).toEqual(rollupsBefore);
    // The hand-made pending and leased rows would keep the other cases' workers waiting.
    await pool.query(`DELETE FROM claims WHERE tenant_id = $1`, [tenant.id]);
    await pool.query(`DELETE FROM events WHERE tenant_id = $1 AND status = 'pending'`, [tenant.id]);
  });

  it("follows each tenant's own setting", async () => {
    const short = await createTestTenant();
    const long = await createTestTenant();
    await updateQuotas(short.slug, { retentionDays: 7 });
    await updateQuotas(long.slug, { retentionDays: 90 });
    await oldEvents(short.id, 4, 10, "done", "short");
    await oldEvents(long.id, 4, 10, "done", "long");
    await runRetention(options);
    expect((await countByStatus(short.id)).done ?? 0).toBe(0);
    expect((await countByStatus(long.id)).done).toBe(4);
  });

  it("refuses a retention outside 1–3650 days", async () => {
    const tenant = await createTestTenant();
    await expect(updateQuotas(tenant.slug, { retentionDays: 0 })).rejects.toThrow();
    await expect(pool.query(`UPDATE tenants SET retention_days = 0 WHERE id = $1`, [tenant.id])).rejects.toThrow(/tenants_retention_days_range/);
  });

  it("runs in one process at a time: a round is skipped while another holds the lock", async () => {
    const tenant = await createTestTenant();
    await oldEvents(tenant.id, 3, 40, "done", "locked");
    await lockHolder.query("SELECT pg_advisory_lock($1)", [RETENTION_LOCK_KEY]);
    try {
      expect(await runRetention(options)).toBeNull();
      expect((await countByStatus(tenant.id)).done).toBe(3);
    } finally {
      await lockHolder.query("SELECT pg_advisory_unlock($1)", [RETENTION_LOCK_KEY]);
    }
    expect((await runRetention(options))?.eventsRemoved).toBeGreaterThanOrEqual(3);
  });
});

describe("tombstones and the horizon", () => {
  /** A tenant whose item `gone` was created at v1 and deleted at v5, processed, with the tombstone aged 40 days. */
  async function tenantWithOldTombstone() {
    const tenant = await createTestTenant();
    await storeInInbox(tenant.id, [event("c1", "item.created", "gone", 1), event("d5", "item.deleted", "gone", 5), event("k1", "item.created", "kept", 1)]);
    await processAll();
    await ageTombstones(tenant.id, 40);
    return tenant;
  }

  async function outcomeOf(tenantId: number, eventId: string) {
    const { rows } = await pool.query<{ outcome: string; last_error: string | null }>(
      `SELECT outcome, last_error FROM events WHERE tenant_id = $1 AND event_id = $2`,
      [tenantId, eventId],
    );
    return rows[0];
  }

  it("raises the horizon before forgetting a tombstone, then forgets it a round later; live items stay", async () => {
    const tenant = await tenantWithOldTombstone();
    const first = await runRetention(options);
    expect(first?.tombstonesRemoved).toBe(0);
    const { rows } = await pool.query<{ tombstone_horizon: Date | null }>(`SELECT tombstone_horizon FROM tenants WHERE id = $1`, [tenant.id]);
    expect(rows[0]?.tombstone_horizon).toBeInstanceOf(Date);
    expect((await readItems(tenant.id)).get("gone")?.deleted).toBe(true);

    await runRetention(options);
    const items = await readItems(tenant.id);
    expect(items.has("gone")).toBe(false);
    expect(items.get("kept")?.deleted).toBe(false);
  });

  it("keeps a tombstone until the raised horizon has settled (the grace)", async () => {
    const tenant = await tenantWithOldTombstone();
    await runRetention({ ...options, tombstoneGraceMs: 3_600_000 });
    await runRetention({ ...options, tombstoneGraceMs: 3_600_000 });
    expect((await readItems(tenant.id)).get("gone")?.deleted).toBe(true);
  });

  it("a late event older than the horizon is stale by rule and does not bring the forgotten item back", async () => {
    const tenant = await tenantWithOldTombstone();
    await runRetention(options);
    await runRetention(options);
    expect((await readItems(tenant.id)).has("gone")).toBe(false);

    // Older than the delete (v3 < v5) and sent long ago: without the rule it would create the item anew.
    await storeInInbox(tenant.id, [{ eventId: "late-u3", body: { ...event("late-u3", "item.updated", "gone", 3).body, timestamp: "2026-10-01T00:00:00Z" } }]);
    await processAll();
    expect(await outcomeOf(tenant.id, "late-u3")).toEqual({ outcome: "stale", last_error: BEYOND_HORIZON });
    expect((await readItems(tenant.id)).has("gone")).toBe(false);

    // A new event (after the horizon) brings an item back, as after any delete.
    await storeInInbox(tenant.id, [{ eventId: "new-u9", body: { ...event("new-u9", "item.updated", "gone", 9).body, timestamp: NOW_ISH() } }]);
    await processAll();
    expect(await outcomeOf(tenant.id, "new-u9")).toEqual({ outcome: "applied", last_error: null });
    expect((await readItems(tenant.id)).get("gone")).toMatchObject({ version: 9, deleted: false });
  });

  it("control: the same late event, for a tenant with no horizon whose tombstone is gone, is applied (what the rule prevents)", async () => {
    const tenant = await tenantWithOldTombstone();
    await pool.query(`DELETE FROM items WHERE tenant_id = $1 AND deleted`, [tenant.id]);
    await storeInInbox(tenant.id, [{ eventId: "late-u3", body: { ...event("late-u3", "item.updated", "gone", 3).body, timestamp: "2026-10-01T00:00:00Z" } }]);
    await processAll();
    expect((await outcomeOf(tenant.id, "late-u3"))?.outcome).toBe("applied");
    expect((await readItems(tenant.id)).get("gone")).toMatchObject({ version: 3, deleted: false });
  });

  it("a tenant with no tombstone older than its window gets no horizon, so old timestamps are judged by precedence alone", async () => {
    const tenant = await createTestTenant();
    await storeInInbox(tenant.id, [event("c1", "item.created", "x", 1), event("d2", "item.deleted", "x", 2)]);
    await processAll();
    await runRetention(options);
    const { rows } = await pool.query<{ tombstone_horizon: Date | null }>(`SELECT tombstone_horizon FROM tenants WHERE id = $1`, [tenant.id]);
    expect(rows[0]?.tombstone_horizon).toBeNull();
    expect((await readItems(tenant.id)).get("x")?.deleted).toBe(true);
  });
});
