/**
 * The rate limit and the daily quota, converted to the chart's buckets: the
 * rate band scales with the bucket's seconds and adds one burst; the daily
 * quota is a line only on 1-day buckets, and on finer ones the stretch of
 * each UTC day after the running total of received events reached it.
 */
import { describe, expect, it } from "vitest";
import { limitBands } from "./bands.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY0 = Date.UTC(2026, 11, 1);

describe("limitBands", () => {
  it("converts the rate limit to events per bucket, plus one burst, at every bucket size", () => {
    const limits = { ratePerSecond: 2.5, burst: 40, dailyQuota: null };
    expect(limitBands(limits, "1m", []).rate).toEqual({ sustained: 150, withBurst: 190 });
    expect(limitBands(limits, "5m", []).rate).toEqual({ sustained: 750, withBurst: 790 });
    expect(limitBands(limits, "1h", []).rate).toEqual({ sustained: 9_000, withBurst: 9_040 });
    expect(limitBands(limits, "1d", []).rate).toEqual({ sustained: 216_000, withBurst: 216_040 });
  });

  it("draws the daily quota as a line only where a bucket is a day, and nothing when unlimited", () => {
    const points = [{ t: DAY0, received: 900 }];
    expect(limitBands({ ratePerSecond: 1, burst: 1, dailyQuota: 1_000 }, "1d", points)).toMatchObject({ quotaLine: 1_000, quotaUsedUp: [] });
    expect(limitBands({ ratePerSecond: 1, burst: 1, dailyQuota: 1_000 }, "1h", points).quotaLine).toBeNull();
    expect(limitBands({ ratePerSecond: 1, burst: 1, dailyQuota: null }, "1h", points)).toMatchObject({ quotaLine: null, quotaUsedUp: [] });
  });

  it("on finer buckets, shades each UTC day from the bucket in which its received events reached the quota", () => {
    // Hourly buckets over two days and a bit, 100 received an hour: a quota of 1,000 is reached in hour 9 (the 10th) of each day.
    const points = Array.from({ length: 50 }, (_, h) => ({ t: DAY0 + h * HOUR, received: 100 }));
    const { quotaUsedUp } = limitBands({ ratePerSecond: 1, burst: 1, dailyQuota: 1_000 }, "1h", points);
    expect(quotaUsedUp).toEqual([
      { x1: DAY0 + 10 * HOUR, x2: DAY0 + 24 * HOUR },
      { x1: DAY0 + 34 * HOUR, x2: DAY0 + 48 * HOUR },
    ]);
  });

  it("restarts the running total at each UTC midnight, and clips the last stretch to the chart's end", () => {
    // 5-minute buckets from 23:00 to 01:00: 600 before midnight, then 400 + 400 + … after it; quota 1,000.
    const start = DAY0 + 23 * HOUR;
    const points = Array.from({ length: 24 }, (_, i) => ({ t: start + i * 5 * MINUTE, received: i < 12 ? 50 : 400 }));
    const { quotaUsedUp } = limitBands({ ratePerSecond: 1, burst: 1, dailyQuota: 1_000 }, "5m", points);
    // Not reached on the first day (600); on the second, reached in its 3rd bucket (400 × 3 = 1,200), to the chart's end at 01:00.
    expect(quotaUsedUp).toEqual([{ x1: DAY0 + 24 * HOUR + 15 * MINUTE, x2: start + 24 * 5 * MINUTE }]);
  });
});
