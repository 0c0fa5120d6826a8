/**
 * When a tenant's backlog will be gone, estimated from its recent minute
 * buckets: pure arithmetic on what server/explain/drain-rates.ts reads (no
 * I/O here), unit-tested in eta.test.ts.
 *
 * The model: over the recent minutes in which the tenant was backlogged, it
 * was served at rate μ (events that reached an outcome, from the rollups) and
 * received events at rate λ (from the inbox). μ is what the tenant actually
 * got: its share of the workers under the competition of that time (weights,
 * its max_concurrency, the other tenants' backlogs). The backlog B (pending +
 * in flight, now) then drains in B / (μ − λ), and never while λ ≥ μ.
 *
 * Which buckets count:
 * - only "backlogged" ones: some processing, and no backlog sample of 0 in
 *   that minute (a tenant that had nothing to do was not served at its share);
 * - only the latest run of them, up to now;
 * - the run's first bucket is left out unless it starts the window: it
 *   most likely began mid-minute, and a full minute's width would understate
 *   both rates;
 * - the current minute counts for the time elapsed in it, once that is at
 *   least MIN_PARTIAL_MS.
 *
 * Uncertainty: the range of net rates μ − λ seen across the buckets used,
 * widened to at least ±2σ of the count noise (σ = √(served + arrived) / time):
 * a range of ETAs, its upper end "never" when some bucket did not drain.
 */

export const WINDOW_MINUTES = 5;
export const BUCKET_MS = 60_000;
/** A current minute younger than this is too short to be a bucket of its own. */
export const MIN_PARTIAL_MS = 10_000;

export interface DrainBucket {
  /** The minute's start (ms since the epoch). */
  start: number;
  /** The tenant's events that reached an outcome in it (rollups). */
  processed: number;
  /** The tenant's events received in it (inbox). */
  arrived: number;
  /** The backlog sampled in that minute (pending), or null when none was taken. */
  backlogSample: number | null;
}

export interface DrainInput {
  /** The database's clock (ms since the epoch). */
  now: number;
  /** Pending plus in flight, now. */
  backlog: number;
  /** The window's minutes, oldest first, the current one last (missing minutes are treated as empty). */
  buckets: readonly DrainBucket[];
}

export type DrainEstimate =
  | { state: "empty"; backlog: 0 }
  | { state: "unknown"; backlog: number; why: string }
  | {
      state: "never";
      backlog: number;
      why: string;
      servicePerSecond: number;
      arrivalPerSecond: number;
      /** How much history the rates were measured over. */
      measuredMs: number;
    }
  | {
      state: "draining";
      backlog: number;
      etaMs: number;
      /** The range: fastest and slowest drain seen; null = never at the slowest rate seen. */
      etaLowMs: number;
      etaHighMs: number | null;
      servicePerSecond: number;
      arrivalPerSecond: number;
      measuredMs: number;
      buckets: number;
    };

interface Used {
  processed: number;
  arrived: number;
  widthMs: number;
}

/** The buckets the rates are measured over (see the header), each with its width. */
export function bucketsToUse(input: DrainInput): Used[] {
  const currentStart = Math.floor(input.now / BUCKET_MS) * BUCKET_MS;
  const widthOf = (bucket: DrainBucket) => (bucket.start >= currentStart ? input.now - bucket.start : BUCKET_MS);
  const considered = input.buckets.filter((bucket) => bucket.start < currentStart || widthOf(bucket) >= MIN_PARTIAL_MS);
  const backlogged = (bucket: DrainBucket) => bucket.processed > 0 && bucket.backlogSample !== 0;
  let first = considered.length;
  while (first > 0 && backlogged(considered[first - 1] as DrainBucket)) first--;
  const run = considered.slice(first);
  // A run that starts after the window's first minute began inside its first bucket.
  const used = first > 0 || (run[0] && run[0].start > (input.buckets[0]?.start ?? 0)) ? run.slice(1) : run;
  return used.map((bucket) => ({ processed: bucket.processed, arrived: bucket.arrived, widthMs: widthOf(bucket) }));
}

const perSecond = (count: number, ms: number) => (count * 1000) / ms;

export function estimateDrain(input: DrainInput): DrainEstimate {
  const backlog = input.backlog;
  if (backlog <= 0) return { state: "empty", backlog: 0 };
  const used = bucketsToUse(input);
  if (used.length === 0) {
    const processedAny = input.buckets.some((bucket) => bucket.processed > 0);
    return processedAny
      ? { state: "unknown", backlog, why: "less than a minute of steady processing to measure its rate from" }
      : {
          state: "never",
          backlog,
          why: `nothing of this tenant was processed in the last ${WINDOW_MINUTES} minutes`,
          servicePerSecond: 0,
          arrivalPerSecond: perSecond(
            input.buckets.reduce((sum, bucket) => sum + bucket.arrived, 0),
            WINDOW_MINUTES * BUCKET_MS,
          ),
          measuredMs: WINDOW_MINUTES * BUCKET_MS,
        };
  }
  const processed = used.reduce((sum, bucket) => sum + bucket.processed, 0);
  const arrived = used.reduce((sum, bucket) => sum + bucket.arrived, 0);
  const measuredMs = used.reduce((sum, bucket) => sum + bucket.widthMs, 0);
  const service = perSecond(processed, measuredMs);
  const arrival = perSecond(arrived, measuredMs);
  const net = service - arrival;
  if (net <= 0) {
    return {
      state: "never",
      backlog,
      why: "events arrive at least as fast as they are processed",
      servicePerSecond: service,
      arrivalPerSecond: arrival,
      measuredMs,
    };
  }
  const nets = used.map((bucket) => perSecond(bucket.processed - bucket.arrived, bucket.widthMs));
  const noise = (2 * Math.sqrt(processed + arrived) * 1000) / measuredMs;
  const fastest = Math.max(...nets, net + noise);
  const slowest = Math.min(...nets, net - noise);
  return {
    state: "draining",
    backlog,
    etaMs: (backlog / net) * 1000,
    etaLowMs: (backlog / fastest) * 1000,
    etaHighMs: slowest > 0 ? (backlog / slowest) * 1000 : null,
    servicePerSecond: service,
    arrivalPerSecond: arrival,
    measuredMs,
    buckets: used.length,
  };
}
