/**
 * What a bench mode reports, and how it is printed: a readable table per
 * mode on stdout, and one JSON line at the very end holding every figure, so
 * that runs can be compared by machine (`npm run bench | tail -n 1`).
 *
 * A mode's checks are part of its report: a figure whose check failed is
 * printed, but the bench exits non-zero, because a benchmark of errors is
 * not a benchmark.
 */
import type { LatencySummary } from "./percentiles.ts";

export type Unit = "req/s" | "events/s" | "rows/s" | "claims/s" | "tx/s";

export interface Measurement {
  /** Stable key for comparing runs, e.g. "webhook-single". */
  id: string;
  /** What was measured, as printed, e.g. "c) signed webhook, 1 event per request". */
  label: string;
  unit: Unit;
  /** Units per second over the measurement window (warm-up and drain excluded). */
  rate: number;
  /** Units completed inside the window. */
  count: number;
  seconds: number;
  connections: number;
  /** Requests (or statements) per second, when a request carries many units. */
  requestRate?: number;
  /** Per request or statement, in milliseconds, over the window. */
  latency: LatencySummary | null;
  /** HTTP status → responses, warm-up and drain included (every response the run received). */
  statuses?: Record<string, number>;
  /** CPU over the window by process group ("server", "postgres", "bench"), when it could be read. */
  cpu?: Record<string, CpuFigure>;
  /** Other figures of the run by name, e.g. the app's RSS ("rssMaxMb"); summarised across repeats like the rate. */
  gauges?: Record<string, number>;
  /** Samples over time, for the results page's charts (e.g. the app's RSS every second). */
  series?: Series[];
  notes: string[];
}

export interface Series {
  name: string;
  unit: string;
  /** Milliseconds between samples. */
  everyMs: number;
  values: number[];
}

export interface CpuFigure {
  /** CPU time per unit (event, row or request), in microseconds. */
  microsPerUnit: number;
  /** CPU seconds per second of window: 1.0 is one core busy all the time. */
  cores: number;
}

/** CPU seconds over a window of `seconds` in which `units` were done → per-unit and per-second figures. */
export function cpuFigures(cpu: Record<string, number> | null, units: number, seconds: number): Record<string, CpuFigure> | undefined {
  if (!cpu || units === 0 || seconds <= 0) return undefined;
  return Object.fromEntries(Object.entries(cpu).map(([label, used]) => [label, { microsPerUnit: (used * 1e6) / units, cores: used / seconds }]));
}

export interface Ratio {
  label: string;
  /** "rate": measured rate ÷ measured rate; "cpu": what that would be had CPU been the only limit. */
  kind: "rate" | "cpu";
  numerator: string;
  denominator: string;
  value: number | null;
}

export interface Check {
  label: string;
  ok: boolean;
  detail: string;
}

export interface ModeReport {
  mode: string;
  title: string;
  /** Lines printed above the table: what ran where, and with what settings. */
  context: string[];
  measurements: Measurement[];
  ratios: Ratio[];
  checks: Check[];
}

/**
 * The ratio of two throughputs had CPU been their only limit: the inverse
 * ratio of their CPU time per unit, summed over `groups` (e.g. ["server"]).
 * On a machine whose cores are shared with other work it moves far less than
 * the ratio of rates, which follows whoever got the cores at that moment.
 */
export function cpuRatio(measurements: readonly Measurement[], label: string, numerator: string, denominator: string, groups: readonly string[]): Ratio {
  // A group a figure does not have (no app behind a raw INSERT) costs it nothing.
  const cost = (id: string) => {
    const cpu = measurements.find((m) => m.id === id)?.cpu;
    return cpu ? groups.reduce((sum, group) => sum + (cpu[group]?.microsPerUnit ?? 0), 0) : null;
  };
  const top = cost(numerator);
  const bottom = cost(denominator);
  return { label, kind: "cpu", numerator, denominator, value: top && bottom ? bottom / top : null };
}

export function ratio(measurements: readonly Measurement[], label: string, numerator: string, denominator: string): Ratio {
  const top = measurements.find((m) => m.id === numerator);
  const bottom = measurements.find((m) => m.id === denominator);
  const value = top && bottom && bottom.rate > 0 ? top.rate / bottom.rate : null;
  return { label, kind: "rate", numerator, denominator, value };
}

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** 12345.6 → "12,346". */
export function formatCount(value: number): string {
  return integer.format(value);
}

function formatRate(value: number): string {
  return integer.format(value);
}

export function formatMs(value: number | undefined): string {
  if (value === undefined) return "–";
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : integer.format(value);
}

export function formatRatio(value: number | null): string {
  if (value === null) return "n/a";
  return value >= 10 ? value.toFixed(1) : value >= 0.1 ? value.toFixed(2) : value.toPrecision(2);
}

function formatCpu(figure: CpuFigure | undefined): string {
  return figure ? `${integer.format(figure.microsPerUnit)} (${figure.cores.toFixed(2)})` : "";
}

function formatStatuses(statuses: Record<string, number> | undefined): string {
  if (!statuses) return "";
  return Object.entries(statuses)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, count]) => `${status}×${integer.format(count)}`)
    .join(" ");
}

/** Left-aligns text columns and right-aligns the ones named in `right`. */
export function renderTable(headers: string[], rows: string[][], right: ReadonlySet<number>): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (right.has(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((width) => "─".repeat(width)).join("  ");
  return [line(headers), rule, ...rows.map(line)].join("\n");
}

export function renderReport(report: ModeReport): string {
  const out: string[] = [`━━ ${report.title} ━━`, ...report.context.map((line) => `  ${line}`), ""];

  const rows = report.measurements.map((m) => [
    m.label,
    String(m.connections),
    formatRate(m.rate),
    m.unit,
    m.requestRate === undefined ? "" : `${m.requestRate.toFixed(1)}/s`,
    formatMs(m.latency?.p50),
    formatMs(m.latency?.p95),
    formatMs(m.latency?.p99),
    formatCpu(m.cpu?.server),
    formatCpu(m.cpu?.postgres),
    formatCpu(m.cpu?.bench),
    formatStatuses(m.statuses),
  ]);
  const headers = [
    "figure",
    "conns",
    "rate",
    "unit",
    "requests",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "server CPU",
    "postgres CPU",
    "bench CPU",
    "HTTP statuses (all responses)",
  ];
  out.push(renderTable(headers, rows, new Set([1, 2, 4, 5, 6, 7, 8, 9, 10])));
  if (report.measurements.some((m) => m.cpu)) {
    out.push("CPU columns: µs of CPU per unit (cores busy on average over the window); server = the app or the node:http floor, bench = the load generator");
  }

  const notes = report.measurements.flatMap((m) => m.notes.map((note) => `  ${m.id}: ${note}`));
  if (notes.length > 0) out.push("", "notes", ...notes);

  if (report.ratios.length > 0) {
    out.push(
      "",
      renderTable(
        ["ratio", "value"],
        report.ratios.map((r) => [r.label, formatRatio(r.value)]),
        new Set([1]),
      ),
    );
    if (report.ratios.some((r) => r.kind === "cpu")) {
      out.push("ratios by CPU: what the rate ratio would be had CPU been the only limit (inverse ratio of CPU per unit); steadier on a busy machine");
    }
  }
  if (report.checks.length > 0) {
    out.push("", "checks", ...report.checks.map((c) => `  ${c.ok ? "ok  " : "FAIL"}  ${c.label}: ${c.detail}`));
  }
  return `${out.join("\n")}\n`;
}

/** A mode that cannot give honest figures (errors instead of 2xx, rows missing): carries what it had measured. */
export class BenchFailure extends Error {
  override name = "BenchFailure";
  constructor(
    message: string,
    readonly report: ModeReport,
  ) {
    super(message);
  }
}
