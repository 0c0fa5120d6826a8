/** The drain estimate's arithmetic: which buckets count, the rates, the range, and "never". */
import { describe, expect, it } from "vitest";
import { BUCKET_MS, bucketsToUse, estimateDrain, type DrainBucket } from "./eta.ts";

const t0 = Date.UTC(2026, 11, 3, 10, 0, 0);
/** Five past minutes and the current one, 30 s into it. */
const now = t0 + 5 * BUCKET_MS + 30_000;

function minutes(...counts: [processed: number, arrived: number, sample?: number | null][]): DrainBucket[] {
  return counts.map(([processed, arrived, sample = null], i) => ({ start: t0 + i * BUCKET_MS, processed, arrived, backlogSample: sample }));
}

describe("estimateDrain", () => {
  it("steady service and arrivals: ETA = backlog / (μ − λ), with a narrow range", () => {
    // 100/s served and 40/s arriving in every minute; the current half minute too.
    const buckets = minutes([6_000, 2_400], [6_000, 2_400], [6_000, 2_400], [6_000, 2_400], [6_000, 2_400], [3_000, 1_200]);
    const estimate = estimateDrain({ now, backlog: 6_000, buckets });
    expect(estimate.state).toBe("draining");
    if (estimate.state !== "draining") return;
    expect(estimate.servicePerSecond).toBeCloseTo(100);
    expect(estimate.arrivalPerSecond).toBeCloseTo(40);
    expect(estimate.etaMs).toBeCloseTo(100_000);
    expect(estimate.buckets).toBe(6);
    expect(estimate.etaLowMs).toBeLessThan(estimate.etaMs);
    expect(estimate.etaHighMs).toBeGreaterThan(estimate.etaMs);
    expect((estimate.etaHighMs as number) / estimate.etaMs).toBeLessThan(1.05);
  });

  it("a bucket that drained slower widens the range; one that did not drain at all makes its top 'never'", () => {
    const varied = estimateDrain({
      now,
      backlog: 6_000,
      buckets: minutes([6_000, 2_400], [6_000, 2_400], [4_800, 2_400], [6_000, 2_400], [6_000, 2_400], [3_000, 1_200]),
    });
    if (varied.state !== "draining") throw new Error(varied.state);
    // The slow minute drained at 40/s against the mean's ~56/s.
    expect(varied.etaHighMs).toBeCloseTo(150_000, -3);
    const stuck = estimateDrain({
      now,
      backlog: 6_000,
      buckets: minutes([6_000, 2_400], [2_400, 2_400], [6_000, 2_400], [6_000, 2_400], [6_000, 2_400], [3_000, 1_200]),
    });
    if (stuck.state !== "draining") throw new Error(stuck.state);
    expect(stuck.etaHighMs).toBeNull();
  });

  it("never at this rate when arrivals reach service", () => {
    const estimate = estimateDrain({
      now,
      backlog: 500,
      buckets: minutes([3_000, 4_800], [3_000, 4_800], [3_000, 4_800], [3_000, 4_800], [3_000, 4_800], [1_500, 2_400]),
    });
    expect(estimate).toMatchObject({ state: "never", servicePerSecond: 50, arrivalPerSecond: 80 });
    expect(estimateDrain({ now, backlog: 500, buckets: minutes([0, 10], [0, 10], [0, 10], [0, 0], [0, 0], [0, 0]) })).toMatchObject({
      state: "never",
      servicePerSecond: 0,
    });
  });

  it("an empty backlog, and too little history", () => {
    expect(estimateDrain({ now, backlog: 0, buckets: minutes([0, 0]) })).toEqual({ state: "empty", backlog: 0 });
    // Processing began in the last full minute: that minute is partial, so only the current half minute is used.
    const young = minutes([0, 0], [0, 0], [0, 0], [0, 0], [900, 5_000], [3_000, 1_200]);
    expect(bucketsToUse({ now, backlog: 1, buckets: young })).toEqual([{ processed: 3_000, arrived: 1_200, widthMs: 30_000 }]);
    // Only that first, partial minute, and a current one too young to count: not enough to say.
    const current = { start: t0 + 5 * BUCKET_MS, processed: 10, arrived: 0, backlogSample: null };
    expect(
      estimateDrain({ now: t0 + 5 * BUCKET_MS + 5_000, backlog: 1, buckets: [...minutes([0, 0], [0, 0], [0, 0], [0, 0], [900, 5_000]), current] }).state,
    ).toBe("unknown");
  });

  it("minutes in which the tenant had nothing to do do not count: a sample of 0 ends the run", () => {
    const buckets = minutes([600, 600, 0], [6_000, 2_400, 900], [6_000, 2_400, 800], [6_000, 2_400, 700], [6_000, 2_400, 600], [3_000, 1_200]);
    // The idle minute is out, and the first minute after it (partial) too.
    expect(bucketsToUse({ now, backlog: 1, buckets }).length).toBe(4);
  });
});
