/**
 * The buckets of a series, without touching the database: which bucket
 * starts a range holds and which of them are still filling, and the range a
 * comparison reads (the previous period). Pure, so the rules are unit-tested
 * on their own (bucket-grid.test.ts).
 */
import type { BucketName } from "./series.ts";

/** Every bucket start of the aligned range [from, to), and whether that bucket is still filling at `now` (it ends after now). */
export function bucketGrid(from: number, to: number, widthMs: number, now: number): { t: number; partial: boolean }[] {
  const grid: { t: number; partial: boolean }[] = [];
  for (let t = from; t < to; t += widthMs) grid.push({ t, partial: t + widthMs > now });
  return grid;
}

/** The previous period of an aligned range: shifted back by its length, so its buckets line up one for one. */
export function previousPeriod(aligned: { from: number; to: number; bucket: BucketName }): { from: Date; to: Date; bucket: BucketName } {
  const length = aligned.to - aligned.from;
  return { from: new Date(aligned.from - length), to: new Date(aligned.to - length), bucket: aligned.bucket };
}
