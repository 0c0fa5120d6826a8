/**
 * What the dashboard shows reconciles with the database: the totals of a
 * range equal the counts of events in it, read through the same tRPC
 * procedure the tenant page calls.
 */
import { describe, expect, it } from "vitest";
import { createCaller } from "../api/root.ts";
import { createContextInner } from "../api/trpc.ts";
import { pool } from "../db.ts";
import { event, storeInInbox, type TestEvent } from "../../test/events.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { processAll } from "../../test/worker.ts";
import { sampleBacklogs } from "./backlog-sampler.ts";
import { chooseBucket } from "./series.ts";

const admin = createCaller(createContextInner({ user: { id: 0, email: "admin@test.example", role: "admin", tenantIds: [] } }));

async function countsInRange(tenantId: number, from: number, to: number) {
  const { rows } = await pool.query(
    `SELECT count(*) FILTER (WHERE type = 'item.created' AND received_at >= $2 AND received_at < $3)::int AS "receivedCreated",
            count(*) FILTER (WHERE type = 'item.updated' AND received_at >= $2 AND received_at < $3)::int AS "receivedUpdated",
            count(*) FILTER (WHERE type = 'item.deleted' AND received_at >= $2 AND received_at < $3)::int AS "receivedDeleted",
            count(*) FILTER (WHERE outcome = 'applied' AND processed_at >= $2 AND processed_at < $3)::int AS applied,
            count(*) FILTER (WHERE outcome = 'stale' AND processed_at >= $2 AND processed_at < $3)::int AS stale,
            count(*) FILTER (WHERE outcome = 'duplicate' AND processed_at >= $2 AND processed_at < $3)::int AS duplicate,
            count(*) FILTER (WHERE outcome = 'rejected' AND processed_at >= $2 AND processed_at < $3)::int AS rejected,
            count(*) FILTER (WHERE outcome = 'dead' AND processed_at >= $2 AND processed_at < $3)::int AS dead
       FROM events WHERE tenant_id = $1`,
    [tenantId, new Date(from), new Date(to)],
  );
  return rows[0];
}

describe("stats.series", () => {
  it("shows totals for a range equal to the counts of events in it, at every bucket size", async () => {
    const tenant = await createTestTenant();
    const events: TestEvent[] = [];
    for (let i = 0; i < 900; i++) {
      const type = (["item.created", "item.updated", "item.deleted"] as const)[i % 3] as TestEvent["body"]["type"];
      events.push(event(`e-${i}`, type, `item-${i % 40}`, 1 + (i % 5)));
    }
    await storeInInbox(tenant.id, events);
    await processAll();

    const now = Date.now();
    for (const span of [3_600_000, 24 * 3_600_000, 7 * 24 * 3_600_000, 30 * 24 * 3_600_000]) {
      const series = await admin.stats.series({ tenant: tenant.slug, from: new Date(now - span), to: new Date(now + 60_000) });
      expect(series.bucket).toBe(chooseBucket(now - span, now + 60_000));
      const { p50, p95, p99, rateLimited, redelivered, conflicts, invalid, ...totals } = series.totals;
      expect(totals).toEqual(await countsInRange(tenant.id, series.from, series.to));
      expect(totals.receivedCreated + totals.receivedUpdated + totals.receivedDeleted).toBe(900);
      expect({ rateLimited, redelivered, conflicts, invalid }).toEqual({ rateLimited: 0, redelivered: 0, conflicts: 0, invalid: 0 });
      expect(p50).not.toBeNull();
      expect(p95 as number).toBeGreaterThanOrEqual(p50 as number);
      expect(p99 as number).toBeGreaterThanOrEqual(p95 as number);
      // Every bucket of the range is there, empty ones as zeros, so charts have no holes.
      const width = { "1m": 60_000, "5m": 300_000, "1h": 3_600_000, "1d": 86_400_000 }[series.bucket];
      expect(series.points.length).toBe((series.to - series.from) / width);
      expect(series.points.reduce((sum, point) => sum + point.applied, 0)).toBe(totals.applied);
    }
  });

  it("a range before any event is all zeros, not an error", async () => {
    const tenant = await createTestTenant();
    const series = await admin.stats.series({ tenant: tenant.slug, from: new Date("2020-01-01T00:00:00Z"), to: new Date("2020-01-01T01:00:00Z") });
    expect(series.points).toHaveLength(60);
    expect(series.totals.applied).toBe(0);
    expect(series.totals.p95).toBeNull();
  });

  it("refuses a range that ends before it starts, or spans more than 400 days", async () => {
    const tenant = await createTestTenant();
    await expect(admin.stats.series({ tenant: tenant.slug, from: new Date(2_000), to: new Date(1_000) })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(admin.stats.series({ tenant: tenant.slug, from: new Date(0), to: new Date(401 * 86_400_000) })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  it("charts the backlog from the per-minute samples", async () => {
    const tenant = await createTestTenant();
    await storeInInbox(tenant.id, [event("b1", "item.created", "x", 1), event("b2", "item.created", "y", 1)]);
    expect(await sampleBacklogs()).toBeGreaterThanOrEqual(1);
    const now = Date.now();
    const series = await admin.stats.series({ tenant: tenant.slug, from: new Date(now - 3_600_000), to: new Date(now + 60_000) });
    expect(series.points.map((point) => point.backlog).filter((value) => value !== null)).toEqual([2]);
  });
});
