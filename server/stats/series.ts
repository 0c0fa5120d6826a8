/**
 * A tenant's time series for the dashboard, read from the rollups only (never
 * by scanning events), so a 30-day view costs the same whatever the volume.
 *
 * The bucket follows the range (≤ 3 h: 1 min, ≤ 24 h: 5 min, ≤ 14 d: 1 h,
 * else 1 day), so a chart has at most a few hundred points. Minute rollups
 * serve 1 min and 5 min buckets, hour rollups serve 1 h and 1 day ones. The
 * range is widened to whole buckets and every bucket in it is returned,
 * empty ones as zeros; totals are over exactly the returned range, which is
 * reported back, so they can be checked against the events table.
 */
import { z } from "zod";
import { pool, sql } from "../db.ts";
import { quantile, type Bins } from "./latency-sketch.ts";
import { ROLLUP_COUNTERS, type RollupCounter } from "./rollups.ts";

export const BUCKETS = { "1m": 60, "5m": 300, "1h": 3_600, "1d": 86_400 } as const;
export type BucketName = keyof typeof BUCKETS;

const HOUR = 3_600_000;
export const MAX_RANGE_MS = 400 * 24 * HOUR;

export const ZSeriesRange = z
  .object({
    from: z.date(),
    to: z.date(),
    bucket: z.enum(Object.keys(BUCKETS) as [BucketName, ...BucketName[]]).optional(),
  })
  .refine((range) => range.from < range.to, { message: "from must be before to", path: ["from"] })
  .refine((range) => range.to.getTime() - range.from.getTime() <= MAX_RANGE_MS, { message: "a range may span at most 400 days", path: ["from"] });
export type TSeriesRange = z.infer<typeof ZSeriesRange>;

export function chooseBucket(fromMs: number, toMs: number): BucketName {
  const span = toMs - fromMs;
  if (span <= 3 * HOUR) return "1m";
  if (span <= 24 * HOUR) return "5m";
  if (span <= 14 * 24 * HOUR) return "1h";
  return "1d";
}

/** The counters a chart shows: every rollup counter but the latency sums (the sketch answers latency). */
const COUNTERS = (Object.keys(ROLLUP_COUNTERS) as RollupCounter[]).filter((name): name is ChartCounter => name !== "latencyCount" && name !== "latencySumMs");
export type ChartCounter = Exclude<RollupCounter, "latencyCount" | "latencySumMs">;

export type SeriesPoint = Record<ChartCounter, number> & {
  /** Bucket start, ms since the epoch. */
  t: number;
  /** Latency received → processed, ms; null where nothing was processed. */
  p50: number | null;
  p95: number | null;
  p99: number | null;
  /** Highest backlog sampled in the bucket; null where no sample was taken. */
  backlog: number | null;
  oldestPendingAgeMs: number | null;
};

export type SeriesTotals = Omit<SeriesPoint, "t" | "p50" | "p95" | "p99" | "backlog" | "oldestPendingAgeMs"> & {
  p50: number | null;
  p95: number | null;
  p99: number | null;
};

export interface Series {
  from: number;
  to: number;
  bucket: BucketName;
  points: SeriesPoint[];
  totals: SeriesTotals;
}

const COUNTS = `
SELECT floor(extract(epoch FROM bucket) / $4)::bigint * $4 * 1000 AS t,
       ${COUNTERS.map((name) => `sum(${ROLLUP_COUNTERS[name]})::float8 AS "${name}"`).join(", ")}
  FROM rollup_counts
 WHERE tenant_id = $1 AND resolution = $5 AND bucket >= $2 AND bucket < $3
 GROUP BY 1`;

const LATENCY = `
SELECT floor(extract(epoch FROM bucket) / $4)::bigint * $4 * 1000 AS t, bin, sum(count)::float8 AS count
  FROM rollup_latency
 WHERE tenant_id = $1 AND resolution = $5 AND bucket >= $2 AND bucket < $3
 GROUP BY 1, 2`;

const BACKLOG = `
SELECT floor(extract(epoch FROM minute) / $4)::bigint * $4 * 1000 AS t,
       max(pending)::float8 AS backlog, max(oldest_pending_age_ms)::float8 AS "oldestPendingAgeMs"
  FROM backlog_samples
 WHERE tenant_id = $1 AND minute >= $2 AND minute < $3
 GROUP BY 1`;

export async function getSeries(tenantId: number, range: TSeriesRange): Promise<Series> {
  const bucket = range.bucket ?? chooseBucket(range.from.getTime(), range.to.getTime());
  const widthMs = BUCKETS[bucket] * 1000;
  const from = Math.floor(range.from.getTime() / widthMs) * widthMs;
  const to = Math.ceil(range.to.getTime() / widthMs) * widthMs;
  const resolution = BUCKETS[bucket] >= 3_600 ? 3_600 : 60;
  const params = [tenantId, new Date(from), new Date(to), BUCKETS[bucket], resolution];

  const [counts, latency, backlog] = await Promise.all([
    sql<{ t: number } & Record<ChartCounter, number>>(pool, COUNTS, params),
    sql<{ t: number; bin: number; count: number }>(pool, LATENCY, params),
    sql<{ t: number; backlog: number; oldestPendingAgeMs: number | null }>(pool, BACKLOG, params.slice(0, 4)),
  ]);

  const countsAt = new Map(counts.map((row) => [Number(row.t), row]));
  const binsAt = new Map<number, Bins>();
  const allBins: Bins = new Map();
  for (const row of latency) {
    const t = Number(row.t);
    const bins = binsAt.get(t) ?? new Map<number, number>();
    bins.set(row.bin, (bins.get(row.bin) ?? 0) + row.count);
    binsAt.set(t, bins);
    allBins.set(row.bin, (allBins.get(row.bin) ?? 0) + row.count);
  }
  const backlogAt = new Map(backlog.map((row) => [Number(row.t), row]));

  const points: SeriesPoint[] = [];
  for (let t = from; t < to; t += widthMs) {
    const row = countsAt.get(t);
    const bins = binsAt.get(t);
    const sample = backlogAt.get(t);
    points.push({
      t,
      ...(Object.fromEntries(COUNTERS.map((key) => [key, row ? Number(row[key]) : 0])) as Record<ChartCounter, number>),
      p50: bins ? quantile(bins, 0.5) : null,
      p95: bins ? quantile(bins, 0.95) : null,
      p99: bins ? quantile(bins, 0.99) : null,
      backlog: sample ? sample.backlog : null,
      oldestPendingAgeMs: sample ? sample.oldestPendingAgeMs : null,
    });
  }

  const totals = Object.fromEntries(COUNTERS.map((key) => [key, points.reduce((sum, point) => sum + point[key], 0)])) as Record<
    (typeof COUNTERS)[number],
    number
  >;
  return {
    from,
    to,
    bucket,
    points,
    totals: { ...totals, p50: quantile(allBins, 0.5), p95: quantile(allBins, 0.95), p99: quantile(allBins, 0.99) },
  };
}
