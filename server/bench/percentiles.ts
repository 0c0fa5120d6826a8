/**
 * Latency samples and their percentiles, for the runs the bench times itself
 * (SQL loops) and for the HTTP runs' measurement window. Samples are kept
 * whole (a Float64Array that doubles as it fills): a 10-second run at the
 * rates this machine reaches holds a few hundred thousand, a few MB, and
 * exact percentiles need no histogram tuning.
 */

export class LatencyRecorder {
  private samples = new Float64Array(4_096);
  private size = 0;

  record(milliseconds: number): void {
    if (this.size === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.size++] = milliseconds;
  }

  get count(): number {
    return this.size;
  }

  /** p50, p95, p99 and max in milliseconds; null when nothing was recorded. */
  summary(): LatencySummary | null {
    return summarizeSorted(this.samples.slice(0, this.size).sort());
  }
}

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** The LatencySummary of ascending `sorted`; null when it is empty. */
export function summarizeSorted(sorted: ArrayLike<number>): LatencySummary | null {
  if (sorted.length === 0) return null;
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] as number };
}

/** Nearest-rank percentile of ascending `sorted` (non-empty). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}
