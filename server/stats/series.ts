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
 *
 * Each point says whether its bucket is still filling (`partial`: it ends
 * after now, on the server's clock), so a chart can draw it as such. Asked
 * to compare (`compare: true`), the answer also holds the previous period:
 * the same range shifted back by its own (bucket-aligned) length, read the
 * same way, point i of it lining up with point i of the range.
 *
 * Closed stretches come from the shared cache (server/cache): the range is
 * cut into aligned chunks, and a chunk that ends before the tenant's oldest
 * unfinished event (and a couple of minutes before now) can no longer change
 * except by a replay of dead events, which invalidates it after its commit
 * (invalidateSeries). The open end of the range is always read afresh, so a
 * chart never shows a stale count of a bucket that is still filling.
 */
import { z } from "zod";
import { Cache } from "../cache/cache.ts";
import { BUCKETS, type BucketName } from "../schemas/buckets.ts";
import { pool, sql } from "../db.ts";
import { oldestUnfinishedReceivedAt } from "./backlog.ts";
import { bucketGrid, previousPeriod } from "./bucket-grid.ts";
import { quantile, type Bins } from "./latency-sketch.ts";
import { ROLLUP_COUNTERS, type RollupCounter } from "./rollups.ts";

export { BUCKETS, type BucketName };

const HOUR = 3_600_000;
export const MAX_RANGE_MS = 400 * 24 * HOUR;

/** The most points one series may have: a bucket given explicitly may not be finer than the range ÷ this. */
export const MAX_SERIES_POINTS = 2_000;

// Dates PostgreSQL's timestamptz holds and JavaScript's Date too: years 1–9999, comfortably inside both.
const MIN_DATE_MS = new Date("0001-01-01T00:00:00Z").getTime();
const MAX_DATE_MS = new Date("9999-12-31T23:59:59.999Z").getTime();
const ZSeriesDate = z.date().refine((date) => date.getTime() >= MIN_DATE_MS && date.getTime() <= MAX_DATE_MS, "must be in the years 0001–9999");

/** How many buckets of `bucket` the range covers once widened to whole buckets. */
export function pointCount(fromMs: number, toMs: number, bucket: BucketName): number {
  const widthMs = BUCKETS[bucket] * 1000;
  return Math.ceil(toMs / widthMs) - Math.floor(fromMs / widthMs);
}

const rangeShape = {
  from: ZSeriesDate,
  to: ZSeriesDate,
  bucket: z.enum(Object.keys(BUCKETS) as [BucketName, ...BucketName[]]).optional(),
};

/** The rules every range obeys, whatever else its object holds. */
const withRangeRules = <S extends z.ZodType<{ from: Date; to: Date; bucket?: BucketName | undefined }>>(schema: S) =>
  schema
    .refine((range) => range.from < range.to, { message: "from must be before to", path: ["from"] })
    .refine((range) => range.to.getTime() - range.from.getTime() <= MAX_RANGE_MS, { message: "a range may span at most 400 days", path: ["from"] })
    // One request must not make the server build (and send) millions of points.
    .refine((range) => range.bucket === undefined || pointCount(range.from.getTime(), range.to.getTime(), range.bucket) <= MAX_SERIES_POINTS, {
      message: `a series may have at most ${MAX_SERIES_POINTS.toLocaleString("en-US")} points: choose a larger bucket or a shorter range`,
      path: ["bucket"],
    });

export const ZSeriesRange = withRangeRules(z.object(rangeShape));
export type TSeriesRange = z.infer<typeof ZSeriesRange>;

/** stats.series' input: a range, and whether to add the previous period beside it. */
export const ZSeriesQuery = withRangeRules(z.object({ ...rangeShape, compare: z.boolean().optional() }));
export type TSeriesQuery = z.infer<typeof ZSeriesQuery>;

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
  /** The bucket is still filling: it ends after the moment the series was read. */
  partial: boolean;
};

export type SeriesTotals = Omit<SeriesPoint, "t" | "p50" | "p95" | "p99" | "backlog" | "oldestPendingAgeMs" | "partial"> & {
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

/** A series with, when asked for, the previous period: [from − (to − from), from), as many points, in the same buckets. */
export type ComparedSeries = Series & { previous: Series | null };

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

type CountRow = { t: number } & Record<ChartCounter, number>;
type LatencyRow = { t: number; bin: number; count: number };
type BacklogRow = { t: number; backlog: number; oldestPendingAgeMs: number | null };

/** The rows of one stretch of a tenant's series, as its three queries return them. */
interface SeriesRows {
  counts: CountRow[];
  latency: LatencyRow[];
  backlog: BacklogRow[];
}

const DAY = 24 * HOUR;
/** The stretch one cache entry holds, per bucket size: whole buckets, aligned to the epoch. */
const CHUNK_MS: Record<BucketName, number> = { "1m": 6 * HOUR, "5m": DAY, "1h": 7 * DAY, "1d": 28 * DAY };
/**
 * A bucket may still change this long after it ends: webhook answers are
 * flushed every few seconds into the minute they happened in, and an insert
 * is stamped with its transaction's start.
 */
const SETTLE_MS = 2 * 60_000;

/** Closed chunks change only by a replay, which invalidates them; the TTL bounds what an invalidation that failed can leave behind. */
const closedChunks = new Cache<SeriesRows>("series", { ttlMs: HOUR, staleMs: 0 });

const chunkId = (tenantId: number, bucket: BucketName, start: number) => `${tenantId}:${bucket}:${start}`;

async function queryRows(tenantId: number, bucket: BucketName, fromMs: number, toMs: number): Promise<SeriesRows> {
  const resolution = BUCKETS[bucket] >= 3_600 ? 3_600 : 60;
  const params = [tenantId, new Date(fromMs), new Date(toMs), BUCKETS[bucket], resolution];
  const [counts, latency, backlog] = await Promise.all([
    sql<CountRow>(pool, COUNTS, params),
    sql<LatencyRow>(pool, LATENCY, params),
    sql<BacklogRow>(pool, BACKLOG, params.slice(0, 4)),
  ]);
  // Numbers, not bigint strings, so that a cached stretch reads back exactly as a fresh one.
  return {
    counts: counts.map((row) => ({ ...row, t: Number(row.t) })),
    latency: latency.map((row) => ({ ...row, t: Number(row.t) })),
    backlog: backlog.map((row) => ({ ...row, t: Number(row.t) })),
  };
}

/** The rows for [from, to): whole closed chunks from the cache (clipped to the range), the rest read now. */
async function rowsFor(tenantId: number, bucket: BucketName, from: number, to: number): Promise<SeriesRows> {
  const chunk = CHUNK_MS[bucket];
  const oldest = await oldestUnfinishedReceivedAt(tenantId);
  const closed = Math.min(Date.now() - SETTLE_MS, oldest?.getTime() ?? Infinity);
  const closedEnd = Math.min(Math.floor(closed / chunk) * chunk, Math.ceil(to / chunk) * chunk);
  const starts: number[] = [];
  for (let start = Math.floor(from / chunk) * chunk; start + chunk <= closedEnd; start += chunk) starts.push(start);
  const liveFrom = Math.max(from, starts.length > 0 ? (starts.at(-1) as number) + chunk : from);
  const parts = await Promise.all([
    ...starts.map((start) => closedChunks.getOrLoad(chunkId(tenantId, bucket, start), () => queryRows(tenantId, bucket, start, start + chunk))),
    liveFrom < to ? queryRows(tenantId, bucket, liveFrom, to) : Promise.resolve({ counts: [], latency: [], backlog: [] }),
  ]);
  const inRange = <R extends { t: number }>(rows: R[]) => rows.filter((row) => row.t >= from && row.t < to);
  return {
    counts: inRange(parts.flatMap((part) => part.counts)),
    latency: inRange(parts.flatMap((part) => part.latency)),
    backlog: inRange(parts.flatMap((part) => part.backlog)),
  };
}

/**
 * Call after a commit that changed rollups in the past (a replay of dead
 * events retracts their counts at their received and processed times): the
 * cached chunks holding those moments are dropped, at every bucket size.
 */
export async function invalidateSeries(tenantId: number, moments: readonly Date[]): Promise<void> {
  const ids = new Set<string>();
  for (const moment of moments) {
    for (const bucket of Object.keys(BUCKETS) as BucketName[]) {
      ids.add(chunkId(tenantId, bucket, Math.floor(moment.getTime() / CHUNK_MS[bucket]) * CHUNK_MS[bucket]));
    }
  }
  for (const id of ids) await closedChunks.invalidate(id);
}

/** The range widened to whole buckets of its bucket (chosen from its span when not given). */
export function alignRange(range: TSeriesRange): { from: number; to: number; bucket: BucketName } {
  const bucket = range.bucket ?? chooseBucket(range.from.getTime(), range.to.getTime());
  const widthMs = BUCKETS[bucket] * 1000;
  return { from: Math.floor(range.from.getTime() / widthMs) * widthMs, to: Math.ceil(range.to.getTime() / widthMs) * widthMs, bucket };
}

/** The series of a range and, if `compare`, of its previous period (see ComparedSeries). */
export async function getComparedSeries(tenantId: number, query: TSeriesQuery): Promise<ComparedSeries> {
  const aligned = alignRange(query);
  const [series, previous] = await Promise.all([
    getSeries(tenantId, query),
    query.compare ? getSeries(tenantId, previousPeriod(aligned)) : Promise.resolve(null),
  ]);
  return { ...series, previous };
}

export async function getSeries(tenantId: number, range: TSeriesRange): Promise<Series> {
  const { from, to, bucket } = alignRange(range);
  const widthMs = BUCKETS[bucket] * 1000;
  const { counts, latency, backlog } = await rowsFor(tenantId, bucket, from, to);

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
  for (const { t, partial } of bucketGrid(from, to, widthMs, Date.now())) {
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
      partial,
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
