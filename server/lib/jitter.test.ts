/**
 * Jitter bounds with a fixed random source: the lowest draw (0), a middle one,
 * and a high one (0.999; the exact top of [0, 1) rounds to the bound itself in
 * floating point). Each function's range is
 * pinned at both ends, and retryAfterSeconds is checked as a property.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fullJitterBackoff, jitterDown, jitterUp, retryAfterSeconds, type Random } from "./jitter.ts";

const fixed =
  (value: number): Random =>
  () =>
    value;
const LOWEST = fixed(0);
const MIDDLE = fixed(0.5);
const HIGH = fixed(0.999);

describe("jitterDown", () => {
  it("spreads over [delay·(1−fraction), delay): never later than asked", () => {
    expect(jitterDown(1_000, 0.2, LOWEST)).toBe(800);
    expect(jitterDown(1_000, 0.2, MIDDLE)).toBe(900);
    expect(jitterDown(1_000, 0.2, HIGH)).toBeCloseTo(999.8, 6);
  });

  it("with fraction 0 is the delay itself", () => {
    expect(jitterDown(1_000, 0, HIGH)).toBe(1_000);
  });
});

describe("jitterUp", () => {
  it("spreads over [delay, delay·(1+fraction)): never earlier than asked", () => {
    expect(jitterUp(1_000, 0.5, LOWEST)).toBe(1_000);
    expect(jitterUp(1_000, 0.5, MIDDLE)).toBe(1_250);
    expect(jitterUp(1_000, 0.5, HIGH)).toBeCloseTo(1_499.5, 6);
  });
});

describe("fullJitterBackoff", () => {
  it("is uniform in [0, base·2^attempt)", () => {
    expect(fullJitterBackoff(0, 100, 10_000, LOWEST)).toBe(0);
    expect(fullJitterBackoff(0, 100, 10_000, MIDDLE)).toBe(50);
    expect(fullJitterBackoff(3, 100, 10_000, MIDDLE)).toBe(400);
    expect(fullJitterBackoff(3, 100, 10_000, HIGH)).toBeCloseTo(799.2, 6);
  });

  it("is capped: the window never exceeds cap, however many attempts", () => {
    expect(fullJitterBackoff(10, 100, 5_000, MIDDLE)).toBe(2_500);
    expect(fullJitterBackoff(1_000, 100, 5_000, HIGH)).toBeCloseTo(4_995, 6);
    expect(Number.isFinite(fullJitterBackoff(1_000, 100, 5_000, HIGH))).toBe(true);
  });

  it("treats a negative attempt as the first", () => {
    expect(fullJitterBackoff(-3, 100, 10_000, MIDDLE)).toBe(50);
  });
});

describe("retryAfterSeconds", () => {
  it("is whole seconds, at least 1, even for no wait or a negative one", () => {
    expect(retryAfterSeconds(0, LOWEST)).toBe(1);
    expect(retryAfterSeconds(-5_000, HIGH)).toBe(1);
    expect(retryAfterSeconds(1, HIGH)).toBe(1);
  });

  it("never tells a client to come back before the wait is over (rounds up)", () => {
    expect(retryAfterSeconds(1_000, LOWEST)).toBe(1);
    expect(retryAfterSeconds(1_001, LOWEST)).toBe(2);
    expect(retryAfterSeconds(100_000, LOWEST)).toBe(100);
  });

  it("adds at most half the wait as jitter", () => {
    expect(retryAfterSeconds(1_000, HIGH)).toBe(2);
    expect(retryAfterSeconds(100_000, MIDDLE)).toBe(125);
    expect(retryAfterSeconds(100_000, HIGH)).toBe(150);
  });

  it("for any wait and draw lies in [ceil(wait), max(1, ceil(1.5·wait))] seconds", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 86_400_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (waitMs, draw) => {
        const seconds = retryAfterSeconds(waitMs, fixed(draw));
        expect(Number.isInteger(seconds)).toBe(true);
        expect(seconds).toBeGreaterThanOrEqual(Math.max(1, Math.ceil(waitMs / 1000)));
        expect(seconds).toBeLessThanOrEqual(Math.max(1, Math.ceil((1.5 * waitMs) / 1000)));
      }),
    );
  });
});
