/**
 * The shapes charts take. A chart is given points (one per time bucket, `t`
 * its start in ms) and a list of series specs naming which numeric fields
 * to draw, how, in which colour and under which CSV column; it fetches
 * nothing and knows nothing of tenants.
 */

/** Keys of P whose values are numbers (or null for "no data in this bucket"). */
export type NumericKey<P> = { [K in keyof P]-?: P[K] extends number | null ? K : never }[keyof P] & string;

export interface TimePoint {
  /** Bucket start, ms since the epoch. */
  t: number;
}

export interface SeriesSpec<P> {
  key: NumericKey<P>;
  label: string;
  /** The CSS custom property that holds the colour (defined for light and dark in app/globals.css). */
  color: `--${string}`;
  /** A filled area (stacked with others of the same stackId) or a line. */
  mark: "area" | "line";
  stackId?: string;
  dashed?: boolean;
  /** Column name in the CSV download. */
  csv: string;
  /** Legend and table group, for charts that mix kinds of numbers. */
  group?: string;
}

export type ValueUnit = "count" | "ms";
