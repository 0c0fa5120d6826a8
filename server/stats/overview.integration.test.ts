/**
 * The overview's per-tenant figures come from each tenant's own rollup rows:
 * the 60-minute throughput sparkline, rate-limited answers in the last hour,
 * the p95 latency of the last 15 minutes, and the health verdict. Two
 * tenants with different traffic in the same minutes must not mix.
 */
import { describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { binOf, binValue } from "./latency-sketch.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { getOverview } from "./overview.ts";

const MINUTE = 60_000;

async function minuteRollup(tenantId: number, minutesAgo: number, counts: { applied?: number; rateLimited?: number }, latencyMs?: number): Promise<void> {
  const bucket = new Date(Math.floor(Date.now() / MINUTE) * MINUTE - minutesAgo * MINUTE);
  await pool.query("INSERT INTO rollup_counts (tenant_id, resolution, bucket, applied, rate_limited) VALUES ($1, 60, $2, $3, $4)", [
    tenantId,
    bucket,
    counts.applied ?? 0,
    counts.rateLimited ?? 0,
  ]);
  if (latencyMs !== undefined) {
    await pool.query("INSERT INTO rollup_latency (tenant_id, resolution, bucket, bin, count) VALUES ($1, 60, $2, $3, $4)", [
      tenantId,
      bucket,
      binOf(latencyMs),
      counts.applied ?? 0,
    ]);
  }
}

describe("overview", () => {
  it("gives each tenant its own sparkline, rate-limited count, p95 and health", async () => {
    const busy = await createTestTenant();
    const throttled = await createTestTenant();
    const idle = await createTestTenant();
    await minuteRollup(busy.id, 0, { applied: 30 }, 20);
    await minuteRollup(busy.id, 5, { applied: 10 }, 20);
    await minuteRollup(busy.id, 90, { applied: 999 }); // outside the hour
    await minuteRollup(throttled.id, 0, { applied: 2, rateLimited: 7 }, 400);

    const overview = await getOverview([busy.id, throttled.id, idle.id]);

    const b = overview.get(busy.id);
    expect(b?.throughput).toHaveLength(60);
    // The current minute is last (or next to last, had the minute turned since the insert).
    const latest = b?.throughput.indexOf(30) ?? -1;
    expect(latest).toBeGreaterThanOrEqual(58);
    expect(b?.throughput[latest - 5]).toBe(10);
    expect(b?.throughput.reduce((sum, n) => sum + n, 0)).toBe(40);
    expect(b?.rateLimitedLastHour).toBe(0);
    expect(b?.p95Ms).toBeCloseTo(binValue(binOf(20)), 6);
    expect(b?.health).toBe("ok");

    const t = overview.get(throttled.id);
    expect(t?.throughput.reduce((sum, n) => sum + n, 0)).toBe(2);
    expect(t?.rateLimitedLastHour).toBe(7);
    expect(t?.p95Ms).toBeCloseTo(binValue(binOf(400)), 6);
    expect(t?.health).toBe("warn");

    const i = overview.get(idle.id);
    expect(i?.throughput.every((n) => n === 0)).toBe(true);
    expect(i?.p95Ms).toBeNull();
    expect(i?.health).toBe("idle");
  });
});
