/**
 * Partial buckets: a bucket is marked partial exactly when it ends after the
 * moment the series is read (the one still filling, and any wholly in the
 * future); one that ended at that very moment is complete.
 */
import { describe, expect, it } from "vitest";
import { bucketGrid, previousPeriod } from "./bucket-grid.ts";

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 11, 3, 10, 0);

describe("bucketGrid", () => {
  it("marks only the bucket holding now, and those after it, as partial", () => {
    const grid = bucketGrid(T0, T0 + 5 * MINUTE, MINUTE, T0 + 3 * MINUTE + 20_000);
    expect(grid).toEqual([
      { t: T0, partial: false },
      { t: T0 + MINUTE, partial: false },
      { t: T0 + 2 * MINUTE, partial: false },
      { t: T0 + 3 * MINUTE, partial: true },
      { t: T0 + 4 * MINUTE, partial: true },
    ]);
  });

  it("counts a bucket that ends exactly now as complete, and one that starts now as partial", () => {
    const grid = bucketGrid(T0, T0 + 3 * MINUTE, MINUTE, T0 + 2 * MINUTE);
    expect(grid.map((point) => point.partial)).toEqual([false, false, true]);
  });

  it("marks nothing partial in a range that ended before now", () => {
    expect(bucketGrid(T0, T0 + 60 * MINUTE, 5 * MINUTE, T0 + 61 * MINUTE).some((point) => point.partial)).toBe(false);
  });
});

describe("previousPeriod", () => {
  it("shifts an aligned range back by its own length, keeping its bucket", () => {
    expect(previousPeriod({ from: T0, to: T0 + 61 * MINUTE, bucket: "1m" })).toEqual({
      from: new Date(T0 - 61 * MINUTE),
      to: new Date(T0),
      bucket: "1m",
    });
  });
});
