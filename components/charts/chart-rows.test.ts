/**
 * The previous period lines up point for point with the range (unstacked
 * series one line each, a stack as its total), and the partial stretch runs
 * from the last complete bucket to the end, or is absent when none is partial.
 */
import { describe, expect, it } from "vitest";
import { partialStretch, previousLines, previousValues } from "./chart-rows.ts";
import type { SeriesSpec } from "./types.ts";

type Point = { t: number; a: number; b: number; p95: number | null; partial?: boolean };
const SERIES: SeriesSpec<Point>[] = [
  { key: "a", label: "A", color: "--chart-applied", mark: "area", stackId: "s", csv: "a" },
  { key: "b", label: "B", color: "--chart-stale", mark: "area", stackId: "s", csv: "b" },
  { key: "p95", label: "p95", color: "--chart-p95", mark: "line", csv: "p95" },
];

describe("previous period", () => {
  it("has one dashed line per unstacked series and one for each stack's total", () => {
    expect(previousLines(SERIES)).toEqual([
      { dataKey: "previous:s", label: "Total, previous period", color: "--chart-axis" },
      { dataKey: "previous:p95", label: "p95, previous period", color: "--chart-p95" },
    ]);
  });

  it("puts point i of the previous period on row i, stacks summed, gaps kept, nothing past its end", () => {
    const previous: Point[] = [
      { t: 0, a: 1, b: 2, p95: 40 },
      { t: 1, a: 0, b: 5, p95: null },
    ];
    expect(previousValues(SERIES, 3, previous)).toEqual([
      { "previous:s": 3, "previous:p95": 40 },
      { "previous:s": 5, "previous:p95": null },
      { "previous:s": null, "previous:p95": null },
    ]);
  });
});

describe("partialStretch", () => {
  const at = (t: number, partial: boolean): Point => ({ t, a: 0, b: 0, p95: null, partial });
  it("runs from the last complete bucket to the last bucket", () => {
    expect(partialStretch([at(0, false), at(60, false), at(120, true)])).toEqual({ x1: 60, x2: 120 });
    expect(partialStretch([at(0, false), at(60, true), at(120, true)])).toEqual({ x1: 0, x2: 120 });
  });
  it("is absent when no bucket is partial, or when the only bucket is", () => {
    expect(partialStretch([at(0, false), at(60, false)])).toBeNull();
    expect(partialStretch([at(0, true)])).toBeNull();
  });
});
