/**
 * A mergeable latency sketch with 1% relative accuracy: DDSketch's
 * logarithmic mapping (Masson, Rim & Lee, VLDB 2019) with the bins kept as
 * plain (bin, count) pairs, so merging two sketches is adding counts per bin,
 * which PostgreSQL does in an ON CONFLICT … DO UPDATE without reading the
 * row first.
 *
 * Guarantee: for any q, quantile(bins, q) is within RELATIVE_ACCURACY of the
 * exact q-quantile (the value at rank ⌊q·(n−1)⌋ of the sorted inputs), for
 * inputs of at least MIN_TRACKED_MS. Smaller inputs (including 0) are
 * counted as MIN_TRACKED_MS.
 */

export const RELATIVE_ACCURACY = 0.01;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
/** ln γ: binOf's divisor, also written into the SQL that bins latencies in the database (server/stats/rollups.ts). */
export const LOG_GAMMA = Math.log(GAMMA);
export const MIN_TRACKED_MS = 0.001;

/** The bin holding `ms`: values in (γ^(i−1), γ^i] share bin i. */
export function binOf(ms: number): number {
  return Math.ceil(Math.log(Math.max(ms, MIN_TRACKED_MS)) / LOG_GAMMA);
}

/** The bin's representative value, within RELATIVE_ACCURACY of everything in it. */
export function binValue(bin: number): number {
  return (2 * GAMMA ** bin) / (GAMMA + 1);
}

export type Bins = Map<number, number>;

export function addToBins(bins: Bins, ms: number, count = 1): void {
  const bin = binOf(ms);
  bins.set(bin, (bins.get(bin) ?? 0) + count);
}

/** The q-quantile (0 ≤ q ≤ 1) of the values counted in `bins`, or null when empty. */
export function quantile(bins: Iterable<[number, number]>, q: number): number | null {
  const sorted = [...bins].filter(([, count]) => count > 0).sort(([a], [b]) => a - b);
  const total = sorted.reduce((sum, [, count]) => sum + count, 0);
  if (total === 0) return null;
  const rank = Math.floor(Math.min(Math.max(q, 0), 1) * (total - 1));
  let seen = 0;
  for (const [bin, count] of sorted) {
    seen += count;
    if (seen > rank) return binValue(bin);
  }
  return binValue((sorted[sorted.length - 1] as [number, number])[0]);
}
