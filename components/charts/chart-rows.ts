/**
 * What a chart draws beyond its own series, worked out from its points:
 *
 * - the previous period as dashed lines: one per unstacked series (its own
 *   colour), and one per stack for the stack's total (a stack's parts drawn
 *   unstacked would not compare with anything on the chart); point i of the
 *   previous period sits on bucket i of the range;
 * - the partial stretch: from the last complete bucket to the end, where the
 *   buckets are still filling (the series marks them), drawn lighter.
 *
 * Pure, so the rules are unit-tested (chart-rows.test.ts).
 */
import type { SeriesSpec, TimePoint } from "./types.ts";

export interface PreviousLine {
  dataKey: string;
  label: string;
  color: `--${string}`;
}

/** Previous-period values of each row, by PreviousLine.dataKey. */
export type PreviousValues = Record<string, number | null>;

export function previousLines<P>(series: readonly SeriesSpec<P>[]): PreviousLine[] {
  const lines: PreviousLine[] = [];
  const stacks = new Set<string>();
  for (const spec of series) {
    if (spec.stackId === undefined) lines.push({ dataKey: `previous:${spec.key}`, label: `${spec.label}, previous period`, color: spec.color });
    else if (!stacks.has(spec.stackId)) {
      stacks.add(spec.stackId);
      lines.push({ dataKey: `previous:${spec.stackId}`, label: "Total, previous period", color: "--chart-axis" });
    }
  }
  return lines;
}

/** The previous period's values for each row of the range (null past its end, or where it has no value). */
export function previousValues<P extends TimePoint>(series: readonly SeriesSpec<P>[], length: number, previous: readonly P[]): PreviousValues[] {
  return Array.from({ length }, (_, i) => {
    const point = previous[i];
    const values: PreviousValues = {};
    for (const spec of series) {
      const value = point ? (point[spec.key] as number | null) : null;
      if (spec.stackId === undefined) values[`previous:${spec.key}`] = value;
      else {
        const key = `previous:${spec.stackId}`;
        const sum = values[key] ?? null;
        values[key] = value === null ? sum : (sum ?? 0) + value;
      }
    }
    return values;
  });
}

/** [x1, x2] of the stretch still filling: from the last complete bucket's start to the last bucket's; null when every bucket is complete. */
export function partialStretch(points: readonly (TimePoint & { partial?: boolean })[]): { x1: number; x2: number } | null {
  const first = points.findIndex((point) => point.partial === true);
  if (first === -1) return null;
  const x1 = (points[first - 1] ?? points[first])?.t;
  const x2 = points.at(-1)?.t;
  return x1 === undefined || x2 === undefined || x1 >= x2 ? null : { x1, x2 };
}
