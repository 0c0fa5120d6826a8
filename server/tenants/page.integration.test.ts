/**
 * The overview's and the tenant list's paging over 10,000 tenants (inserted
 * set-based): the order is "needs attention first" (health, then the oldest
 * backlog's age, then the refused share, then slug), pages are contiguous
 * slices of it, the search matches slugs and names in any case with `%`
 * and `_` taken literally, and a viewer sees only their own tenants on every
 * page and in every search. The fairness panel lists the busiest few and
 * sums the other 9,997 into one row.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { insertBulkTenants, type BulkTenant } from "../bench/bulk-tenants.ts";
import { pool } from "../db.ts";
import { getFairness } from "../stats/fairness.ts";
import { lastHourFrom } from "../stats/overview.ts";
import { pageVisibleTenants, type Viewer } from "./visibility.ts";

const COUNT = 10_000;
const admin: Viewer = { role: "admin", tenantIds: [] };
let tenants: BulkTenant[];
const slugOf = (n: number) => `bulk-${String(n).padStart(5, "0")}`;
const idOf = (n: number) => (tenants[n - 1] as BulkTenant).id;

async function pending(n: number, ageSeconds: number, status: "pending" | "dead" = "pending"): Promise<void> {
  await pool.query(
    `INSERT INTO events (tenant_id, event_id, type, item_id, version, payload, payload_hash, source_timestamp, received_at, status, outcome, processed_at, attempts)
     VALUES ($1, 'e-' || $2::text, 'item.created', 'item-1', 1, '{}', '\\x00', now(), now() - make_interval(secs => $2::float8), $3, $4, $5, 0)`,
    [idOf(n), ageSeconds, status, status === "dead" ? "dead" : null, status === "dead" ? new Date() : null],
  );
}

async function lastHour(n: number, counts: { applied?: number; rateLimited?: number; received?: number }): Promise<void> {
  await pool.query("INSERT INTO rollup_counts (tenant_id, resolution, bucket, applied, rate_limited, received_created) VALUES ($1, 60, $2, $3, $4, $5)", [
    idOf(n),
    new Date(lastHourFrom(Date.now()) + 30 * 60_000),
    counts.applied ?? 0,
    counts.rateLimited ?? 0,
    counts.received ?? 0,
  ]);
}

/** The planted tenants, in the order they must come: bad before warn before ok before idle, then by age, refused share, slug. */
const PLANTED = [
  17, // bad: pending 900 s
  5000, // bad: pending 400 s
  3, // bad: a dead event, nothing pending (age: none)
  9999, // warn: pending 60 s
  42, // warn: refused 50% of the last hour
  7, // warn: refused 10%
];
/** Processed something in the last hour, nothing wrong: ok, by slug. */
const OK = [2, 8000, 400];

beforeAll(async () => {
  tenants = await insertBulkTenants(COUNT);
  await pool.query("UPDATE tenants SET name = 'Shop 100% uptime_test' WHERE id = $1", [idOf(123)]);
  await pending(17, 900);
  await pending(5000, 400);
  await pending(3, 10, "dead");
  await pending(9999, 60);
  await lastHour(42, { rateLimited: 50, received: 50, applied: 50 });
  await lastHour(7, { rateLimited: 10, received: 90, applied: 90 });
  for (const n of OK) await lastHour(n, { applied: 5, received: 5 });
}, 120_000);

describe("tenants, paged by what needs attention", () => {
  it("orders 10,000 tenants: the planted ones first, in urgency order, then ok ones, then idle ones by slug; pages are contiguous", async () => {
    const idle = Array.from({ length: COUNT }, (_, i) => i + 1).filter((n) => !PLANTED.includes(n) && !OK.includes(n));
    const expected = [...PLANTED, ...[...OK].sort((a, b) => slugOf(a).localeCompare(slugOf(b))), ...idle].map(slugOf);

    const first = await pageVisibleTenants(admin, { offset: 0, limit: 100 });
    expect(first.total).toBe(COUNT);
    expect(first.tenants.map((t) => t.slug)).toEqual(expected.slice(0, 100));
    expect(first.tenants.slice(0, 3).map((t) => t.overview?.health)).toEqual(["bad", "bad", "bad"]);
    expect(first.tenants[0]?.overview?.oldestPendingAgeMs).toBeGreaterThanOrEqual(900_000);

    const second = await pageVisibleTenants(admin, { offset: 100, limit: 100 });
    expect(second.tenants.map((t) => t.slug)).toEqual(expected.slice(100, 200));
    const last = await pageVisibleTenants(admin, { offset: COUNT - 30, limit: 100 });
    expect(last.tenants.map((t) => t.slug)).toEqual(expected.slice(COUNT - 30));
    const beyond = await pageVisibleTenants(admin, { offset: COUNT, limit: 100 });
    expect({ total: beyond.total, tenants: beyond.tenants }).toEqual({ total: COUNT, tenants: [] });
  });

  it("searches slugs and names in any case, with % and _ taken literally", async () => {
    const digits = await pageVisibleTenants(admin, { search: "0004", offset: 0, limit: 100 });
    // bulk-00004 and bulk-00040 … bulk-00049; 42 is warn, so it leads.
    expect(digits.total).toBe(11);
    expect(digits.tenants.map((t) => t.slug)).toEqual([42, 4, 40, 41, 43, 44, 45, 46, 47, 48, 49].map(slugOf));

    const byName = await pageVisibleTenants(admin, { search: "  tenant 0999 ", offset: 0, limit: 100 });
    expect(byName.tenants.map((t) => t.slug)).toEqual([9999, 9990, 9991, 9992, 9993, 9994, 9995, 9996, 9997, 9998].map(slugOf));

    for (const literal of ["%", "_", "100% UPTIME_"]) {
      const found = await pageVisibleTenants(admin, { search: literal, offset: 0, limit: 100 });
      expect({ literal, slugs: found.tenants.map((t) => t.slug) }).toEqual({ literal, slugs: [slugOf(123)] });
    }
  });

  it("shows a viewer only their own tenants, on every page and in every search", async () => {
    const viewer: Viewer = { role: "viewer", tenantIds: [idOf(41), idOf(17), idOf(8000)] };
    const all = await pageVisibleTenants(viewer, { offset: 0, limit: 100 });
    expect({ total: all.total, slugs: all.tenants.map((t) => t.slug) }).toEqual({ total: 3, slugs: [17, 8000, 41].map(slugOf) });

    const paged = [await pageVisibleTenants(viewer, { offset: 0, limit: 2 }), await pageVisibleTenants(viewer, { offset: 2, limit: 2 })];
    expect(paged.map((page) => page.tenants.map((t) => t.slug))).toEqual([[17, 8000].map(slugOf), [41].map(slugOf)]);

    // "0004" matches eleven tenants, of which the viewer has one; "bulk" matches all, of which they see three.
    expect((await pageVisibleTenants(viewer, { search: "0004", offset: 0, limit: 100 })).tenants.map((t) => t.slug)).toEqual([slugOf(41)]);
    expect((await pageVisibleTenants(viewer, { search: "BULK", offset: 0, limit: 100 })).total).toBe(3);
    expect((await pageVisibleTenants(viewer, { search: "tenant 09999", offset: 0, limit: 100 })).total).toBe(0);

    const nobody: Viewer = { role: "viewer", tenantIds: [] };
    expect(await pageVisibleTenants(nobody, { offset: 0, limit: 100 })).toEqual({ tenants: [], total: 0, offset: 0, limit: 100 });
  });

  it("fairness lists the busiest tenants one by one and sums the rest into others", async () => {
    const fairness = await getFairness(
      tenants.map((t) => t.id),
      new Date(Date.now() - 3_600_000),
      new Date(Date.now() + 60_000),
      3,
    );
    // Processed: 7 → 90, 42 → 50, and 2, 400, 8000 → 5 each (the tie goes by slug); 155 in all, weights 1 each.
    expect(fairness.busiest.map((row) => [row.slug, row.processed, row.share])).toEqual([
      [slugOf(7), 90, 90 / 155],
      [slugOf(42), 50, 50 / 155],
      [slugOf(2), 5, 5 / 155],
    ]);
    expect(fairness.others).toEqual({ tenants: COUNT - 3, processed: 10, share: 10 / 155, weight: COUNT - 3, weightShare: (COUNT - 3) / COUNT });
  });

  it("puts a tenant with a firing alert before every other, and back in its place once the alert resolves", async () => {
    const idle = 9000;
    const { rows } = await pool.query<{ id: string }>(
      "INSERT INTO alerts (tenant_id, rule, threshold, fired_at, value, peak_value) VALUES ($1, 'dead', 0, now(), 1, 1) RETURNING id",
      [idOf(idle)],
    );
    const firing = await pageVisibleTenants(admin, { offset: 0, limit: 3 });
    expect(firing.tenants.map((tenant) => tenant.slug)).toEqual([slugOf(idle), slugOf(PLANTED[0] as number), slugOf(PLANTED[1] as number)]);
    await pool.query("UPDATE alerts SET resolved_at = now(), resolved_value = 0 WHERE id = $1", [rows[0]?.id]);
    const resolved = await pageVisibleTenants(admin, { offset: 0, limit: 3 });
    expect(resolved.tenants.map((tenant) => tenant.slug)).toEqual(PLANTED.slice(0, 3).map(slugOf));
  });
});
