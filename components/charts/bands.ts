/**
 * A tenant's limits in the events chart's own units, so "why was I
 * throttled" can be read off it:
 *
 * - the rate limit as a band per bucket: from what the sustained rate lets
 *   through in one bucket (rate × bucket seconds) to that plus one full
 *   burst (the token bucket starts full), the most a bucket can ever hold;
 * - the daily quota (per UTC day) as a line on 1-day buckets, where a bucket
 *   is a day; on finer buckets, where it is a cap on the running total rather
 *   than a per-bucket figure, as the stretches of each UTC day after the
 *   events received that day reached it ("quota used up").
 *
 * Pure: the chart draws what these return (time-series-chart.tsx).
 */
import { BUCKETS, type BucketName } from "@/server/schemas/buckets.ts";

export interface TenantLimits {
  ratePerSecond: number;
  burst: number;
  /** Events per UTC day; null is unlimited. */
  dailyQuota: number | null;
}

export interface LimitBands {
  /** Events per bucket the sustained rate admits, and that plus one burst. */
  rate: { sustained: number; withBurst: number };
  /** The daily quota as a per-bucket line (1-day buckets only), else null. */
  quotaLine: number | null;
  /** Stretches [x1, x2) of the chart (ms) after the day's received events reached the daily quota. */
  quotaUsedUp: { x1: number; x2: number }[];
}

const DAY_MS = 86_400_000;

export function limitBands(limits: TenantLimits, bucket: BucketName, points: readonly { t: number; received: number }[]): LimitBands {
  const seconds = BUCKETS[bucket];
  const sustained = limits.ratePerSecond * seconds;
  const bands: LimitBands = { rate: { sustained, withBurst: sustained + limits.burst }, quotaLine: null, quotaUsedUp: [] };
  if (limits.dailyQuota === null) return bands;
  if (bucket === "1d") return { ...bands, quotaLine: limits.dailyQuota };

  const widthMs = seconds * 1000;
  const end = (points.at(-1)?.t ?? 0) + widthMs;
  let day = Number.NaN;
  let total = 0;
  for (const point of points) {
    const pointDay = Math.floor(point.t / DAY_MS) * DAY_MS;
    if (pointDay !== day) {
      day = pointDay;
      total = 0;
    }
    const before = total;
    total += point.received;
    // The bucket in which the running total reached the quota: from its end to the day's end (or the chart's) it is used up.
    if (before < limits.dailyQuota && total >= limits.dailyQuota) bands.quotaUsedUp.push({ x1: point.t + widthMs, x2: Math.min(day + DAY_MS, end) });
  }
  bands.quotaUsedUp = bands.quotaUsedUp.filter((stretch) => stretch.x1 < stretch.x2);
  return bands;
}
