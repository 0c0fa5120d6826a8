"use client";
/**
 * One time-series chart: stacked areas and/or lines over time buckets, from
 * typed points and series specs. Presentational: no fetching, no tenant.
 *
 * Colours are CSS variables read by the browser (`var(--chart-…)`), so both
 * themes apply without re-rendering. Animations are off: the page refreshes
 * every few seconds and a chart that re-animates each time would move under
 * the reader's eyes. Empty latency buckets are null and drawn as gaps, never
 * as zeros.
 *
 * Optional layers (chart-rows.ts, bands.ts): the previous period as dashed
 * lines (class "previous-period"), the stretch still filling washed out with
 * a "partial" label (and "partial" in its tooltip), and a tenant's limits as
 * a rate-limit band, a daily-quota line and "quota used up" stretches.
 */
import { Area, CartesianGrid, ComposedChart, Line, ReferenceArea, ReferenceLine, Tooltip, XAxis, YAxis } from "recharts";
import { formatBucket, formatCompact, formatCount, formatMs, formatMsTick, formatTick, type BucketName } from "../format.ts";
import type { LimitBands } from "./bands.ts";
import { partialStretch, previousLines, previousValues, type PreviousLine, type PreviousValues } from "./chart-rows.ts";
import { timeTicks } from "./ticks.ts";
import type { SeriesSpec, TimePoint, ValueUnit } from "./types.ts";

export interface TimeSeriesChartProps<P extends TimePoint> {
  data: readonly P[];
  series: readonly SeriesSpec<P>[];
  bucket: BucketName;
  unit: ValueUnit;
  /** Logarithmic value axis (latency spans orders of magnitude). */
  logScale?: boolean;
  height?: number | string;
  /** Names the chart for screen readers (the visible heading is outside). */
  label: string;
  /** The previous period's points, point i beside point i: drawn as dashed lines. */
  previous?: readonly P[] | null;
  /** A tenant's limits in this chart's buckets, drawn as a band, a line and shaded stretches. */
  limits?: LimitBands | null;
}

type MaybePartial = { partial?: boolean };

export function formatValue(value: number | null | undefined, unit: ValueUnit): string {
  return unit === "ms" ? formatMs(value) : formatCount(value);
}

export function TimeSeriesChart<P extends TimePoint & MaybePartial>({
  data,
  series,
  bucket,
  unit,
  logScale = false,
  height = "100%",
  label,
  previous = null,
  limits = null,
}: TimeSeriesChartProps<P>) {
  const first = data[0]?.t ?? 0;
  const last = data[data.length - 1]?.t ?? first;
  const span = last - first;
  const ticks = timeTicks(first, last);

  const lines = previous ? previousLines(series) : [];
  const before = previous ? previousValues(series, data.length, previous) : null;
  const filling = partialStretch(data);
  // A log axis cannot place zero; such values become gaps there.
  const rows = data.map((point, i) => {
    const copy = { ...point, ...before?.[i] } as Record<string, unknown>;
    if (logScale) {
      for (const key of [...series.map((spec) => spec.key as string), ...lines.map((line) => line.dataKey)]) {
        const value = copy[key] as number | null | undefined;
        if (value !== null && value !== undefined && value <= 0) copy[key] = null;
      }
    }
    return copy as P & PreviousValues;
  });

  return (
    <ComposedChart
      data={rows as P[]}
      responsive
      style={{ width: "100%", height }}
      margin={{ top: 6, right: 8, bottom: 0, left: 0 }}
      accessibilityLayer
      title={label}
    >
      <CartesianGrid stroke="var(--chart-grid)" vertical={false} />
      <XAxis
        dataKey="t"
        type="number"
        scale="time"
        domain={[first, last]}
        ticks={ticks}
        tickFormatter={(t: number) => formatTick(t, span)}
        stroke="var(--chart-grid)"
        tick={{ fill: "var(--chart-axis)", fontSize: 11 }}
        tickLine={false}
        minTickGap={16}
        interval="preserveStartEnd"
      />
      <YAxis
        width={unit === "ms" ? 52 : 44}
        scale={logScale ? "log" : "linear"}
        domain={logScale ? ["auto", "auto"] : [0, "auto"]}
        allowDataOverflow={logScale}
        tickFormatter={(value: number) => (unit === "ms" ? formatMsTick(value) : formatCompact(value))}
        stroke="var(--chart-grid)"
        tick={{ fill: "var(--chart-axis)", fontSize: 11 }}
        tickLine={false}
        allowDecimals={unit === "ms"}
      />
      <Tooltip
        isAnimationActive={false}
        cursor={{ stroke: "var(--chart-axis)", strokeDasharray: "3 3" }}
        content={({ active, label: hovered }) => {
          if (!active || typeof hovered !== "number") return null;
          const index = data.findIndex((candidate) => candidate.t === hovered);
          const point = data[index];
          if (!point) return null;
          return <ChartTooltip point={point} series={series} bucket={bucket} unit={unit} previous={before?.[index] ?? null} lines={lines} />;
        }}
      />
      {series.map((spec) =>
        spec.mark === "area" ? (
          <Area
            key={spec.key}
            dataKey={spec.key}
            name={spec.label}
            stackId={spec.stackId}
            type="linear"
            // A stacked area's outline runs along the running total, so every outline but the last would be hidden
            // and the last (often an empty series such as "dead") would seem to carry the total: fill only.
            stroke={spec.stackId ? "none" : `var(${spec.color})`}
            fill={`var(${spec.color})`}
            fillOpacity={spec.stackId ? 0.6 : 0.28}
            strokeWidth={1.5}
            isAnimationActive={false}
            dot={false}
            activeDot={{ r: 3 }}
            connectNulls={false}
          />
        ) : (
          <Line
            key={spec.key}
            dataKey={spec.key}
            name={spec.label}
            type="linear"
            stroke={`var(${spec.color})`}
            strokeWidth={spec.dashed ? 1.5 : 2}
            strokeDasharray={spec.dashed ? "5 3" : undefined}
            isAnimationActive={false}
            dot={(props: { cx?: number; cy?: number; index?: number }) => {
              // A value with no neighbours draws no line segment: mark it, or it would be invisible.
              const index = props.index ?? -1;
              const at = (i: number) => (rows[i] ? (rows[i][spec.key] as number | null) : null);
              const isolated = at(index) !== null && at(index - 1) === null && at(index + 1) === null;
              return isolated && props.cx !== undefined && props.cy !== undefined ? (
                <circle key={`dot-${spec.key}-${index}`} cx={props.cx} cy={props.cy} r={2.5} fill={`var(${spec.color})`} />
              ) : (
                <g key={`dot-${spec.key}-${index}`} />
              );
            }}
            activeDot={{ r: 3 }}
            connectNulls={false}
          />
        ),
      )}
      {lines.map((line) => (
        <Line
          key={line.dataKey}
          className="previous-period"
          dataKey={line.dataKey}
          name={line.label}
          type="linear"
          stroke={`var(${line.color})`}
          strokeWidth={1.5}
          strokeOpacity={0.75}
          strokeDasharray="6 4"
          isAnimationActive={false}
          dot={false}
          activeDot={false}
          connectNulls={false}
        />
      ))}
      {limits ? <LimitLayers limits={limits} /> : null}
      {filling ? (
        <ReferenceArea
          className="partial-bucket"
          x1={filling.x1}
          x2={filling.x2}
          fill="var(--panel)"
          fillOpacity={0.55}
          stroke="var(--chart-axis)"
          strokeDasharray="2 3"
          strokeOpacity={0.6}
          label={LABELS.partial}
        />
      ) : null}
    </ComposedChart>
  );
}

// Module constants: recharts 3 re-registers a reference layer whose props change identity, so fresh objects each render would re-render the chart again.
const LABELS = {
  partial: { value: "partial", position: "insideTopRight", fill: "var(--chart-axis)", fontSize: 10 },
  rateLimit: { value: "rate limit", position: "insideTopLeft", fill: "var(--chart-rate-limited)", fontSize: 10 },
  dailyQuota: { value: "daily quota", position: "insideTopLeft", fill: "var(--chart-dead)", fontSize: 10 },
  quotaUsedUp: { value: "daily quota used up", position: "insideTop", fill: "var(--chart-dead)", fontSize: 10 },
} as const;

/** The rate limit as a band (sustained rate to one burst above it), the daily quota as a line or shaded stretches. Clipped to the plot. */
function LimitLayers({ limits }: { limits: LimitBands }) {
  return (
    <>
      <ReferenceArea
        className="rate-limit-band"
        y1={limits.rate.sustained}
        y2={limits.rate.withBurst}
        ifOverflow="hidden"
        fill="var(--chart-rate-limited)"
        fillOpacity={0.12}
        label={LABELS.rateLimit}
      />
      <ReferenceLine y={limits.rate.sustained} ifOverflow="hidden" stroke="var(--chart-rate-limited)" strokeDasharray="3 3" />
      {limits.quotaLine !== null ? (
        <ReferenceLine
          className="daily-quota-line"
          y={limits.quotaLine}
          ifOverflow="hidden"
          stroke="var(--chart-dead)"
          strokeDasharray="8 3"
          label={LABELS.dailyQuota}
        />
      ) : null}
      {limits.quotaUsedUp.map((stretch) => (
        <ReferenceArea
          key={stretch.x1}
          className="quota-used-up"
          x1={stretch.x1}
          x2={stretch.x2}
          ifOverflow="hidden"
          fill="var(--chart-dead)"
          fillOpacity={0.08}
          label={LABELS.quotaUsedUp}
        />
      ))}
    </>
  );
}

function ChartTooltip<P extends TimePoint & MaybePartial>({
  point,
  series,
  bucket,
  unit,
  previous,
  lines,
}: {
  point: P;
  series: readonly SeriesSpec<P>[];
  bucket: BucketName;
  unit: ValueUnit;
  previous: PreviousValues | null;
  lines: readonly PreviousLine[];
}) {
  const startsGroup = groupStarts(series);
  return (
    <div className="chart-tooltip">
      <strong>{formatBucket(point.t, bucket)}</strong>
      {point.partial ? <span className="partial-marker"> · partial, still filling</span> : null}
      <table>
        <tbody>
          {series.flatMap((spec) => {
            const rows = [];
            if (spec.group && startsGroup.has(spec.key)) {
              rows.push(
                <tr key={`group-${spec.group}`} className="group">
                  <td colSpan={2}>{spec.group}</td>
                </tr>,
              );
            }
            rows.push(
              <tr key={spec.key}>
                <td>
                  <span
                    className={`swatch ${spec.mark === "line" ? (spec.dashed ? "dashed" : "line") : ""}`}
                    style={spec.mark === "area" ? { background: `var(${spec.color})` } : { color: `var(${spec.color})` }}
                  />{" "}
                  {spec.label}
                </td>
                <td className="num">{formatValue(point[spec.key] as number | null, unit)}</td>
              </tr>,
            );
            return rows;
          })}
          {previous && lines.length > 0 ? (
            <tr className="group">
              <td colSpan={2}>Previous period</td>
            </tr>
          ) : null}
          {previous
            ? lines.map((line) => (
                <tr key={line.dataKey}>
                  <td>
                    <span className="swatch dashed" style={{ color: `var(${line.color})` }} /> {line.label}
                  </td>
                  <td className="num">{formatValue(previous[line.dataKey], unit)}</td>
                </tr>
              ))
            : null}
        </tbody>
      </table>
    </div>
  );
}

/** The keys of the series that start a group: the first of each run of series with the same group name. */
function groupStarts<P extends TimePoint>(series: readonly SeriesSpec<P>[]): Set<SeriesSpec<P>["key"]> {
  const starts = new Set<SeriesSpec<P>["key"]>();
  let group: string | undefined;
  for (const spec of series) {
    if (spec.group && spec.group !== group) {
      group = spec.group;
      starts.add(spec.key);
    }
  }
  return starts;
}
