/**
 * The overview row of each tenant: last hour's throughput per minute (the
 * sparkline), the current backlog, p95 latency over the last 15 minutes and
 * a health verdict. A fixed number of queries for any number of tenants,
 * each reading rollups or the small partial indexes of the inbox.
 */
import { pool, sql } from "../db.ts";
import { quantile } from "./latency-sketch.ts";
import { getBacklogs } from "./backlog.ts";
import { processedSql } from "./rollups.ts";

export type HealthVerdict = "ok" | "idle" | "warn" | "bad";

export interface TenantOverview {
  tenantId: number;
  /** Events processed per minute, oldest first, for the last 60 minutes. */
  throughput: number[];
  pending: number;
  dead: number;
  oldestPendingAgeMs: number | null;
  p95Ms: number | null;
  rateLimitedLastHour: number;
  health: HealthVerdict;
  /** Why the verdict is what it is, for the badge's tooltip. */
  healthReason: string;
}

const SPARK_MINUTES = 60;
const LATENCY_WINDOW_MINUTES = 15;
/** A backlog whose oldest event waited longer than this is a warning; ten times it, a failure. */
const SLOW_BACKLOG_MS = 30_000;

/** What the verdict is judged from: the backlog and the last hour's rollups. */
export type HealthInputs = Pick<TenantOverview, "pending" | "dead" | "oldestPendingAgeMs" | "rateLimitedLastHour"> & { processedLastHour: number };

export function judgeHealth(o: HealthInputs): {
  health: HealthVerdict;
  reason: string;
} {
  const age = o.oldestPendingAgeMs ?? 0;
  if (age > 10 * SLOW_BACKLOG_MS) return { health: "bad", reason: `oldest pending event waited ${Math.round(age / 1000)} s` };
  if (o.dead > 0) return { health: "bad", reason: `${o.dead} dead event${o.dead === 1 ? "" : "s"} to replay` };
  if (age > SLOW_BACKLOG_MS) return { health: "warn", reason: `oldest pending event waited ${Math.round(age / 1000)} s` };
  if (o.rateLimitedLastHour > 0) return { health: "warn", reason: `${o.rateLimitedLastHour} events rate-limited in the last hour` };
  if (o.pending === 0 && o.processedLastHour === 0) return { health: "idle", reason: "no events in the last hour" };
  return { health: "ok", reason: "processing normally" };
}

const minuteMs = 60_000;

/** The start of "the last hour" the overview counts over: the current minute and the 59 before it. */
export function lastHourFrom(now: number): number {
  return Math.floor(now / minuteMs) * minuteMs - (SPARK_MINUTES - 1) * minuteMs;
}

export async function getOverview(tenantIds: number[]): Promise<Map<number, TenantOverview>> {
  if (tenantIds.length === 0) return new Map();
  const now = Date.now();
  const sparkFrom = lastHourFrom(now);

  const [counts, bins, backlog] = await Promise.all([
    sql<{ tenant_id: number; t: number; processed: number; rate_limited: number }>(
      pool,
      `SELECT tenant_id, (extract(epoch FROM bucket) * 1000)::float8 AS t,
              (${processedSql()})::float8 AS processed, rate_limited::float8 AS rate_limited
         FROM rollup_counts
        WHERE tenant_id = ANY($1) AND resolution = 60 AND bucket >= $2`,
      [tenantIds, new Date(sparkFrom)],
    ),
    sql<{ tenant_id: number; bin: number; count: number }>(
      pool,
      `SELECT tenant_id, bin, sum(count)::float8 AS count
         FROM rollup_latency
        WHERE tenant_id = ANY($1) AND resolution = 60 AND bucket >= $2
        GROUP BY 1, 2`,
      [tenantIds, new Date(now - LATENCY_WINDOW_MINUTES * minuteMs)],
    ),
    getBacklogs(tenantIds),
  ]);

  // Rows grouped by tenant once, so the cost is linear in rows, not rows × tenants.
  const countsByTenant = groupBy(counts, (count) => count.tenant_id);
  const binsByTenant = groupBy(bins, (bin) => bin.tenant_id);

  const result = new Map<number, TenantOverview>();
  for (const [tenantId, row] of backlog) {
    const throughput = Array.from({ length: SPARK_MINUTES }, () => 0);
    let rateLimitedLastHour = 0;
    for (const count of countsByTenant.get(tenantId) ?? []) {
      const index = Math.round((count.t - sparkFrom) / minuteMs);
      if (index >= 0 && index < SPARK_MINUTES) throughput[index] = (throughput[index] ?? 0) + count.processed;
      rateLimitedLastHour += count.rate_limited;
    }
    const tenantBins = (binsByTenant.get(tenantId) ?? []).map((bin): [number, number] => [bin.bin, bin.count]);
    const base = { pending: row.pending, dead: row.dead, oldestPendingAgeMs: row.oldestPendingAgeMs, rateLimitedLastHour, throughput };
    const { health, reason } = judgeHealth({ ...base, processedLastHour: throughput.reduce((sum, n) => sum + n, 0) });
    result.set(tenantId, { tenantId, ...base, p95Ms: quantile(tenantBins, 0.95), health, healthReason: reason });
  }
  return result;
}

function groupBy<T, K>(rows: readonly T[], key: (row: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const row of rows) {
    const k = key(row);
    const group = groups.get(k);
    if (group) group.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}
