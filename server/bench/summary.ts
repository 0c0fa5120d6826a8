/**
 * `--repeat N`: the same mode run N times, summarised figure by figure.
 *
 * Every number a run reports (a measurement's rate, request rate, latency
 * percentiles, CPU per unit and gauges; every ratio) becomes a Spread: the
 * median of the runs and their range (min–max), with each run's value kept
 * in run order. Measurements are matched across runs by their stable id and
 * ratios by their label, so a figure a run did not reach (its mode failed
 * before it) is summarised over the runs that have it, and says how many.
 *
 * Pure: tested in bench.test.ts without running anything.
 */
import { formatMs, formatRatio, renderTable, type Check, type Measurement, type ModeReport, type Ratio, type Unit } from "./report.ts";

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Each run's value, in run order (runs without one left out). */
  values: number[];
}

/** The median of `values` (the mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Median and range of the finite values among `values`; null when there are none. */
export function spread(values: readonly (number | null | undefined)[]): Spread | null {
  const present = values.filter((value): value is number => typeof value === "number" && Number.isFinite(value));
  if (present.length === 0) return null;
  return { median: median(present), min: Math.min(...present), max: Math.max(...present), values: present };
}

export interface MeasurementSummary {
  id: string;
  label: string;
  unit: Unit;
  connections: number;
  /** Runs that have this figure. */
  runs: number;
  rate: Spread;
  requestRate?: Spread;
  latency?: { p50: Spread; p95: Spread; p99: Spread; max: Spread };
  /** CPU µs per unit by process group. */
  cpuMicrosPerUnit?: Record<string, Spread>;
  gauges?: Record<string, Spread>;
}

export interface RatioSummary {
  label: string;
  kind: Ratio["kind"];
  numerator: string;
  denominator: string;
  /** Null when no run could compute it. */
  value: Spread | null;
}

export interface ModeSummary {
  mode: string;
  title: string;
  runs: number;
  measurements: MeasurementSummary[];
  ratios: RatioSummary[];
  /** Every run's checks; with several runs each label says which run. */
  checks: Check[];
}

function keysOf(records: readonly (Record<string, unknown> | undefined)[]): string[] {
  return [...new Set(records.flatMap((record) => Object.keys(record ?? {})))];
}

function spreadsBy<T>(items: readonly T[], names: readonly string[], pick: (item: T, name: string) => number | undefined): Record<string, Spread> | undefined {
  const out: Record<string, Spread> = {};
  for (const name of names) {
    const summary = spread(items.map((item) => pick(item, name)));
    if (summary) out[name] = summary;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function summarizeMeasurement(all: readonly Measurement[]): MeasurementSummary {
  const first = all[0] as Measurement;
  const withLatency = all.filter((m) => m.latency);
  const latency = (pick: (m: Measurement) => number | undefined) => spread(withLatency.map(pick)) as Spread;
  const requestRate = spread(all.map((m) => m.requestRate));
  const cpu = spreadsBy(all, keysOf(all.map((m) => m.cpu)), (m, group) => m.cpu?.[group]?.microsPerUnit);
  const gauges = spreadsBy(all, keysOf(all.map((m) => m.gauges)), (m, name) => m.gauges?.[name]);
  return {
    id: first.id,
    label: first.label,
    unit: first.unit,
    connections: first.connections,
    runs: all.length,
    rate: spread(all.map((m) => m.rate)) ?? { median: 0, min: 0, max: 0, values: all.map(() => 0) },
    ...(requestRate ? { requestRate } : {}),
    ...(withLatency.length > 0
      ? {
          latency: {
            p50: latency((m) => m.latency?.p50),
            p95: latency((m) => m.latency?.p95),
            p99: latency((m) => m.latency?.p99),
            max: latency((m) => m.latency?.max),
          },
        }
      : {}),
    ...(cpu ? { cpuMicrosPerUnit: cpu } : {}),
    ...(gauges ? { gauges } : {}),
  };
}

/** The runs of one mode (in run order), summarised. */
export function summarizeMode(reports: readonly ModeReport[]): ModeSummary {
  const first = reports[0];
  if (!first) throw new Error("summarizeMode needs at least one run");
  const ids = [...new Set(reports.flatMap((report) => report.measurements.map((m) => m.id)))];
  const labels = [...new Set(reports.flatMap((report) => report.ratios.map((r) => r.label)))];
  return {
    mode: first.mode,
    title: first.title,
    runs: reports.length,
    measurements: ids.map((id) => summarizeMeasurement(reports.flatMap((report) => report.measurements.filter((m) => m.id === id)))),
    ratios: labels.map((label) => {
      const all = reports.flatMap((report) => report.ratios.filter((r) => r.label === label));
      const { kind, numerator, denominator } = all[0] as Ratio;
      return { label, kind, numerator, denominator, value: spread(all.map((r) => r.value)) };
    }),
    checks: reports.flatMap((report, run) =>
      report.checks.map((check) => (reports.length === 1 ? check : { ...check, label: `run ${run + 1}: ${check.label}` })),
    ),
  };
}

/** "4,310 (4,102–4,388)" with `format` for each number; just the median for one run. */
export function formatSpread(value: Spread | null | undefined, format: (n: number) => string): string {
  if (!value) return "–";
  if (value.values.length === 1 || value.min === value.max) return format(value.median);
  return `${format(value.median)} (${format(value.min)}–${format(value.max)})`;
}

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const rateFormat = (value: number) => integer.format(value);
const msFormat = (value: number) => formatMs(value);

/** The summary table printed after a mode's last run: medians with ranges. */
export function renderSummary(summary: ModeSummary): string {
  const out = [`━━ ${summary.title}: median (min–max) of ${summary.runs} runs ━━`, ""];
  out.push(
    renderTable(
      ["figure", "id", "rate", "unit", "p50 ms", "p95 ms", "p99 ms"],
      summary.measurements.map((m) => [
        m.label,
        m.id,
        formatSpread(m.rate, rateFormat),
        m.unit,
        formatSpread(m.latency?.p50, msFormat),
        formatSpread(m.latency?.p95, msFormat),
        formatSpread(m.latency?.p99, msFormat),
      ]),
      new Set([2, 4, 5, 6]),
    ),
  );
  const gauges = summary.measurements.flatMap((m) => Object.entries(m.gauges ?? {}).map(([name, value]) => [`${m.id} ${name}`, formatSpread(value, msFormat)]));
  if (gauges.length > 0) out.push("", renderTable(["gauge", "value"], gauges, new Set([1])));
  if (summary.ratios.length > 0) {
    out.push(
      "",
      renderTable(
        ["ratio", "value"],
        summary.ratios.map((r) => [r.label, r.value ? formatSpread(r.value, (v) => formatRatio(v)) : "n/a"]),
        new Set([1]),
      ),
    );
  }
  const failed = summary.checks.filter((check) => !check.ok);
  out.push("", failed.length === 0 ? `checks: all ${summary.checks.length} ok` : `checks: ${failed.length} FAILED: ${failed.map((c) => c.label).join("; ")}`);
  return `${out.join("\n")}\n`;
}
