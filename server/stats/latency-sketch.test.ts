import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MIN_TRACKED_MS, RELATIVE_ACCURACY, addToBins, quantile, type Bins } from "./latency-sketch.ts";

function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].map((v) => Math.max(v, MIN_TRACKED_MS)).sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}

const latencies = fc.array(
  fc.double({ min: -3, max: 7, noNaN: true }).map((exponent) => 10 ** exponent),
  { minLength: 1, maxLength: 2_000 },
);

describe("latency sketch", () => {
  it("answers every quantile within 1% of the exact value", () => {
    fc.assert(
      fc.property(latencies, fc.double({ min: 0, max: 1, noNaN: true }), (values, q) => {
        const bins: Bins = new Map();
        for (const value of values) addToBins(bins, value);
        const exact = exactQuantile(values, q);
        const estimate = quantile(bins, q) as number;
        expect(Math.abs(estimate - exact) / exact).toBeLessThanOrEqual(RELATIVE_ACCURACY + 1e-12);
      }),
      { numRuns: 500 },
    );
  });

  it("merges by adding bin counts: two halves give the sketch of the whole", () => {
    fc.assert(
      fc.property(latencies, latencies, (a, b) => {
        const whole: Bins = new Map();
        for (const value of [...a, ...b]) addToBins(whole, value);
        const merged: Bins = new Map();
        for (const part of [a, b]) {
          const bins: Bins = new Map();
          for (const value of part) addToBins(bins, value);
          for (const [bin, count] of bins) merged.set(bin, (merged.get(bin) ?? 0) + count);
        }
        expect(merged).toEqual(whole);
      }),
    );
  });

  it("has no quantile when empty", () => {
    expect(quantile(new Map(), 0.5)).toBeNull();
  });
});
