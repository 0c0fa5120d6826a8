"use client";
/**
 * A chart with its heading, legend and two ways out of the picture: a
 * "Table" toggle showing the very same numbers in an accessible table, and a
 * "CSV" button downloading them (ISO timestamp of each bucket's start, then
 * one column per series, then the previous period's when compared).
 * Presentational: everything comes in as props.
 */
import { useId, useState, type ReactNode } from "react";
import { BUCKET_LABEL, formatBucket, type BucketName } from "../format.ts";
import type { LimitBands } from "./bands.ts";
import { previousLines, previousValues, type PreviousLine, type PreviousValues } from "./chart-rows.ts";
import { toCsv, downloadText } from "./csv.ts";
import { TimeSeriesChart, formatValue } from "./time-series-chart.tsx";
import type { SeriesSpec, TimePoint, ValueUnit } from "./types.ts";

export interface TimeSeriesPanelProps<P extends TimePoint> {
  title: string;
  description?: ReactNode;
  data: readonly P[];
  series: readonly SeriesSpec<P>[];
  bucket: BucketName;
  unit: ValueUnit;
  /** The CSV file's name, without ".csv". */
  fileName: string;
  /** Offer a log-scale switch (latency). */
  allowLogScale?: boolean;
  /** The data shown is the previous range's while the new one loads. */
  stale?: boolean;
  /** Shown instead of the chart when no series has a value. */
  emptyText?: string;
  /** The previous period's points (compare mode), point i beside point i. */
  previous?: readonly P[] | null;
  /** A tenant's limits in this chart's buckets (the events chart). */
  limits?: LimitBands | null;
}

export function TimeSeriesPanel<P extends TimePoint>({
  title,
  description,
  data,
  series,
  bucket,
  unit,
  fileName,
  allowLogScale = false,
  stale = false,
  emptyText,
  previous = null,
  limits = null,
}: TimeSeriesPanelProps<P>) {
  const headingId = useId();
  const [showTable, setShowTable] = useState(false);
  const [logScale, setLogScale] = useState(false);
  const hasValues = data.some((point) => series.some((spec) => (point[spec.key] as number | null) !== null && (point[spec.key] as number) !== 0));

  const lines = previous ? previousLines(series) : [];
  const before = previous ? previousValues(series, data.length, previous) : null;

  function downloadCsv() {
    const header = ["timestamp", ...series.map((spec) => spec.csv), ...lines.map((line) => line.dataKey.replace("previous:", "previous_"))];
    const rows = data.map((point, i) => [
      new Date(point.t).toISOString(),
      ...series.map((spec) => point[spec.key] as number | null),
      ...lines.map((line) => before?.[i]?.[line.dataKey] ?? null),
    ]);
    downloadText(`${fileName}.csv`, toCsv(header, rows));
  }

  return (
    <section className="panel chart-panel" aria-labelledby={headingId}>
      <div className="chart-head">
        <h2 id={headingId}>{title}</h2>
        <div className="chart-tools">
          {allowLogScale && !showTable ? (
            <button type="button" className="small" aria-pressed={logScale} onClick={() => setLogScale((on) => !on)}>
              Log scale
            </button>
          ) : null}
          <button type="button" className="small" aria-pressed={showTable} onClick={() => setShowTable((on) => !on)}>
            Table
          </button>
          <button type="button" className="small" onClick={downloadCsv} aria-label={`Download ${title} as CSV`} disabled={data.length === 0}>
            CSV
          </button>
        </div>
      </div>
      {description ? <p className="chart-description muted">{description}</p> : null}

      <div className="chart-body" data-placeholder={stale}>
        {showTable ? (
          <SeriesTable title={title} data={data} series={series} bucket={bucket} unit={unit} lines={lines} previous={before} />
        ) : !hasValues && emptyText ? (
          <div className="state muted small" style={{ height: "100%", display: "grid", placeItems: "center" }}>
            {emptyText}
          </div>
        ) : (
          <TimeSeriesChart data={data} series={series} bucket={bucket} unit={unit} logScale={logScale} label={title} previous={previous} limits={limits} />
        )}
      </div>

      <Legend series={series} compared={lines.length > 0} />
    </section>
  );
}

function Legend<P>({ series, compared }: { series: readonly SeriesSpec<P>[]; compared: boolean }) {
  const groups: { label: string | undefined; items: SeriesSpec<P>[] }[] = [];
  for (const spec of series) {
    const last = groups[groups.length - 1];
    if (last && last.label === spec.group) last.items.push(spec);
    else groups.push({ label: spec.group, items: [spec] });
  }
  return (
    <div className="legend" aria-hidden="true">
      {groups.map((group) => (
        <div className="legend-group" key={group.label ?? "all"}>
          {group.label ? <span className="legend-group-label">{group.label}:</span> : null}
          {group.items.map((spec) => (
            <span className="legend-item" key={spec.key}>
              <span
                className={`swatch ${spec.mark === "line" ? (spec.dashed ? "dashed" : "line") : ""}`}
                style={spec.mark === "area" ? { background: `var(${spec.color})` } : { color: `var(${spec.color})` }}
              />
              {spec.label}
            </span>
          ))}
        </div>
      ))}
      {compared ? (
        <div className="legend-group">
          <span className="legend-item">
            <span className="swatch dashed" style={{ color: "var(--chart-axis)" }} />
            Dashed: previous period
          </span>
        </div>
      ) : null}
    </div>
  );
}

function SeriesTable<P extends TimePoint>({
  title,
  data,
  series,
  bucket,
  unit,
  lines,
  previous,
}: {
  title: string;
  data: readonly P[];
  series: readonly SeriesSpec<P>[];
  bucket: BucketName;
  unit: ValueUnit;
  lines: readonly PreviousLine[];
  previous: PreviousValues[] | null;
}) {
  const grouped = series.some((spec) => spec.group);
  const groups: { label: string; span: number }[] = [];
  if (grouped) {
    for (const spec of series) {
      const last = groups[groups.length - 1];
      if (last && last.label === (spec.group ?? "")) last.span++;
      else groups.push({ label: spec.group ?? "", span: 1 });
    }
  }
  return (
    // Focusable so keyboard users can scroll it; the caption names it.
    <div className="table-scroll" tabIndex={0}>
      <table className="data">
        <caption>
          {title}, {BUCKET_LABEL[bucket]} (bucket start, local time){unit === "ms" ? ", milliseconds" : ""}
        </caption>
        <thead>
          {grouped ? (
            <tr>
              <td />
              {groups.map((group) => (
                <th key={group.label} scope="colgroup" colSpan={group.span}>
                  {group.label}
                </th>
              ))}
            </tr>
          ) : null}
          <tr>
            <th scope="col">Time</th>
            {series.map((spec) => (
              <th key={spec.key} scope="col" className="num">
                {spec.label}
              </th>
            ))}
            {lines.map((line) => (
              <th key={line.dataKey} scope="col" className="num">
                {line.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {data.map((point, i) => (
            <tr key={point.t}>
              <th scope="row" className="nowrap">
                <time dateTime={new Date(point.t).toISOString()}>{formatBucket(point.t, bucket)}</time>
              </th>
              {series.map((spec) => (
                <td key={spec.key} className="num">
                  {formatValue(point[spec.key] as number | null, unit)}
                </td>
              ))}
              {lines.map((line) => (
                <td key={line.dataKey} className="num">
                  {formatValue(previous?.[i]?.[line.dataKey] ?? null, unit)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
