/**
 * The previous period beside a series (stats.series with compare: true):
 * known rollups in the range and in the period before it come back as two
 * aligned point lists, point i of the previous period being the range's
 * bucket i shifted back by the (bucket-aligned) range's length, at the
 * minute-rollup and the hour-rollup bucket sizes, with a range whose ends
 * are not on bucket boundaries. Rows just outside either period stay out.
 */
import { describe, expect, it } from "vitest";
import { createCaller } from "../api/root.ts";
import { createContextInner } from "../api/trpc.ts";
import { pool } from "../db.ts";
import { createTestTenant } from "../../test/webhooks.ts";

const admin = createCaller(createContextInner({ user: { id: 0, email: "admin@test.example", role: "admin", tenantIds: [] } }));
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Three days ago, on the hour: every bucket of the test is closed. */
const T0 = Math.floor(Date.now() / HOUR) * HOUR - 72 * HOUR;

async function rollup(tenantId: number, resolution: 60 | 3600, at: number, applied: number, rateLimited = 0): Promise<void> {
  await pool.query("INSERT INTO rollup_counts (tenant_id, resolution, bucket, applied, rate_limited) VALUES ($1, $2, $3, $4, $5)", [
    tenantId,
    resolution,
    new Date(at),
    applied,
    rateLimited,
  ]);
}

describe("stats.series, compared with the previous period", () => {
  it("1 min buckets, a range off the bucket boundaries: the previous period is the aligned range shifted back by its length", async () => {
    const tenant = await createTestTenant();
    // The range asked for is [T0 + 30 s, T0 + 60 min + 30 s): aligned, [T0, T0 + 61 min), 61 buckets; its previous period is [T0 − 61 min, T0).
    for (let k = 0; k < 61; k++) {
      await rollup(tenant.id, 60, T0 + k * MINUTE, 1000 + k);
      await rollup(tenant.id, 60, T0 - 61 * MINUTE + k * MINUTE, k + 1, k % 2);
    }
    await rollup(tenant.id, 60, T0 - 62 * MINUTE, 99_999); // before the previous period
    await rollup(tenant.id, 60, T0 + 61 * MINUTE, 77_777); // after the range

    const series = await admin.stats.series({ tenant: tenant.slug, from: new Date(T0 + 30_000), to: new Date(T0 + HOUR + 30_000), compare: true });
    expect({ bucket: series.bucket, from: series.from, to: series.to }).toEqual({ bucket: "1m", from: T0, to: T0 + 61 * MINUTE });
    const previous = series.previous;
    expect({ from: previous?.from, to: previous?.to, bucket: previous?.bucket }).toEqual({ from: T0 - 61 * MINUTE, to: T0, bucket: "1m" });
    expect(series.points.map((p) => p.applied)).toEqual(Array.from({ length: 61 }, (_, k) => 1000 + k));
    expect(previous?.points.map((p) => p.applied)).toEqual(Array.from({ length: 61 }, (_, k) => k + 1));
    expect(previous?.points.map((p) => p.rateLimited)).toEqual(Array.from({ length: 61 }, (_, k) => k % 2));
    expect(previous?.points.map((p) => p.t)).toEqual(series.points.map((p) => p.t - 61 * MINUTE));
    expect(previous?.totals.applied).toBe((61 * 62) / 2);
    expect(previous?.points.some((p) => p.partial)).toBe(false);
  });

  it("1 h buckets from the hour rollups, and no previous period unless asked", async () => {
    const tenant = await createTestTenant();
    const DAY = 24 * HOUR;
    // A 7-day range ending at T0 (1 h buckets): the previous period is the 7 days before.
    await rollup(tenant.id, 3600, T0 - 1 * HOUR, 5);
    await rollup(tenant.id, 3600, T0 - 7 * DAY - 1 * HOUR, 3);
    await rollup(tenant.id, 3600, T0 - 7 * DAY, 11);
    await rollup(tenant.id, 3600, T0 - 14 * DAY - HOUR, 1_000); // before the previous period
    const range = { tenant: tenant.slug, from: new Date(T0 - 7 * DAY), to: new Date(T0) };

    const compared = await admin.stats.series({ ...range, compare: true });
    expect(compared.bucket).toBe("1h");
    expect(compared.points).toHaveLength(168);
    expect(compared.previous?.points).toHaveLength(168);
    expect(compared.points.at(-1)?.applied).toBe(5);
    expect(compared.points[0]?.applied).toBe(11);
    expect(compared.previous?.points.at(-1)?.applied).toBe(3);
    expect(compared.previous?.totals.applied).toBe(3);

    expect((await admin.stats.series(range)).previous).toBeNull();
  });

  it("marks the bucket still filling, and those after it, as partial, and no other", async () => {
    const tenant = await createTestTenant();
    const before = Date.now();
    const series = await admin.stats.series({ tenant: tenant.slug, from: new Date(before - HOUR), to: new Date(before + 3 * MINUTE) });
    const after = Date.now();
    expect(series.points.length).toBeGreaterThan(60);
    for (const point of series.points) {
      const end = point.t + MINUTE;
      if (end <= before) expect({ t: point.t, partial: point.partial }).toEqual({ t: point.t, partial: false });
      if (end > after) expect({ t: point.t, partial: point.partial }).toEqual({ t: point.t, partial: true });
    }
    // Partial buckets are the tail: the one holding the moment of the call and the ones after it.
    const firstPartial = series.points.findIndex((point) => point.partial);
    expect(series.points.slice(firstPartial).every((point) => point.partial)).toBe(true);
    expect(series.points[firstPartial]?.t).toBeLessThanOrEqual(after);
  });
});
