/**
 * The bench's results, kept: one JSON document (the figures of every run and
 * their summaries) and one HTML page with charts, written side by side under
 * bench/results/ (ignored by git) as bench-<start time>.{json,html}.
 *
 * The page is a single self-contained file: inline SVG and CSS, no script,
 * nothing fetched, so it opens anywhere, offline, and can be attached to an
 * issue as it is. Every text that came from a run is escaped.
 *
 * The JSON is the same document as the bench's last stdout line. Its shape
 * (schema 2): modes[mode] = { runs, measurements: MeasurementSummary[] (by
 * stable id), ratios: RatioSummary[], checks, perRun: [{ measurements,
 * ratios, checks }] } — see summary.ts and report.ts.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { MachineInfo } from "./harness.ts";
import type { Check, Measurement, ModeReport, Ratio, Series } from "./report.ts";
import { formatSpread, summarizeMode, type ModeSummary, type Spread } from "./summary.ts";

export const RESULTS_SCHEMA = 2;

export interface ModeResult extends ModeSummary {
  perRun: { measurements: Measurement[]; ratios: Ratio[]; checks: Check[] }[];
}

export interface BenchResults {
  bench: "tidemark";
  schema: typeof RESULTS_SCHEMA;
  ok: boolean;
  startedAt: string;
  finishedAt: string;
  command: string;
  repeat: number;
  machine: (MachineInfo & { loadAverageAtEnd: number[] }) | null;
  options: unknown;
  profileDir: string | null;
  modes: Record<string, ModeResult>;
}

/** Groups reports by mode (in first-run order) and summarises each. */
export function modeResults(reports: readonly ModeReport[]): Record<string, ModeResult> {
  const byMode = new Map<string, ModeReport[]>();
  for (const report of reports) byMode.set(report.mode, [...(byMode.get(report.mode) ?? []), report]);
  return Object.fromEntries(
    [...byMode].map(([mode, runs]) => [
      mode,
      { ...summarizeMode(runs), perRun: runs.map(({ measurements, ratios, checks }) => ({ measurements, ratios, checks })) },
    ]),
  );
}

/** Writes `<dir>/bench-<startedAt>.json` and `.html`; returns both paths. */
export async function writeResults(dir: string, results: BenchResults): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const stem = `bench-${results.startedAt.replace(/[:.]/g, "-")}`;
  const json = path.join(dir, `${stem}.json`);
  const html = path.join(dir, `${stem}.html`);
  await writeFile(json, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(html, renderHtml(results));
  return { json, html };
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
function formatNumber(value: number): string {
  const abs = Math.abs(value);
  return abs >= 100 ? integer.format(value) : abs >= 10 ? value.toFixed(1) : abs >= 0.1 ? value.toFixed(2) : value.toPrecision(2);
}

const WIDTH = 1000;
const LABEL_WIDTH = 400;
const ROW = 26;

interface Bar {
  label: string;
  value: Spread;
  text: string;
}

/** Horizontal bars (the median) with a whisker from min to max, on a linear scale from 0. */
export function barChart(title: string, bars: readonly Bar[], marker?: { at: number; label: string }): string {
  if (bars.length === 0) return "";
  const top = Math.max(...bars.map((bar) => bar.value.max), marker?.at ?? 0) || 1;
  const plot = WIDTH - LABEL_WIDTH - 230;
  const x = (value: number) => LABEL_WIDTH + (value / top) * plot;
  const height = 30 + bars.length * ROW;
  const rows = bars.map((bar, i) => {
    const y = 24 + i * ROW;
    const { median, min, max } = bar.value;
    return [
      `<text x="${LABEL_WIDTH - 8}" y="${y + 14}" text-anchor="end">${escapeHtml(bar.label)}</text>`,
      `<rect x="${LABEL_WIDTH}" y="${y + 3}" width="${Math.max(1, x(median) - LABEL_WIDTH).toFixed(1)}" height="${ROW - 8}" class="bar"/>`,
      min !== max
        ? `<line x1="${x(min).toFixed(1)}" x2="${x(max).toFixed(1)}" y1="${y + 11}" y2="${y + 11}" class="whisker"/>` +
          `<line x1="${x(min).toFixed(1)}" x2="${x(min).toFixed(1)}" y1="${y + 6}" y2="${y + 16}" class="whisker"/>` +
          `<line x1="${x(max).toFixed(1)}" x2="${x(max).toFixed(1)}" y1="${y + 6}" y2="${y + 16}" class="whisker"/>`
        : "",
      `<text x="${(x(max) + 6).toFixed(1)}" y="${y + 14}">${escapeHtml(bar.text)}</text>`,
    ].join("");
  });
  const goal = marker
    ? `<line x1="${x(marker.at).toFixed(1)}" x2="${x(marker.at).toFixed(1)}" y1="20" y2="${height - 4}" class="goal"/>` +
      `<text x="${x(marker.at).toFixed(1)}" y="14" text-anchor="middle" class="goal-text">${escapeHtml(marker.label)}</text>`
    : "";
  return (
    `<figure><figcaption>${escapeHtml(title)}</figcaption>` +
    `<svg viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="${escapeHtml(title)}">${rows.join("")}${goal}</svg></figure>`
  );
}

/** One line per run of a series (e.g. RSS per second), on a shared scale. */
export function lineChart(title: string, runs: readonly Series[]): string {
  const drawn = runs.filter((series) => series.values.length > 0);
  if (drawn.length === 0) return "";
  const height = 220;
  const left = 60;
  const plotWidth = WIDTH - left - 20;
  const plotHeight = height - 50;
  const all = drawn.flatMap((series) => series.values);
  const low = Math.min(...all);
  const high = Math.max(...all);
  const span = high - low || 1;
  const longest = Math.max(...drawn.map((series) => series.values.length)) - 1 || 1;
  const lines = drawn.map((series, run) => {
    const points = series.values
      .map((value, i) => `${(left + (i / longest) * plotWidth).toFixed(1)},${(20 + plotHeight - ((value - low) / span) * plotHeight).toFixed(1)}`)
      .join(" ");
    return `<polyline points="${points}" class="line line-${run % 5}"/>`;
  });
  const unit = escapeHtml(drawn[0]?.unit ?? "");
  const seconds = (longest * (drawn[0]?.everyMs ?? 1000)) / 1000;
  const axis =
    `<text x="${left - 6}" y="24" text-anchor="end">${formatNumber(high)} ${unit}</text>` +
    `<text x="${left - 6}" y="${20 + plotHeight}" text-anchor="end">${formatNumber(low)} ${unit}</text>` +
    `<text x="${left}" y="${height - 10}">0 s</text><text x="${left + plotWidth}" y="${height - 10}" text-anchor="end">${formatNumber(seconds)} s</text>` +
    `<line x1="${left}" x2="${left}" y1="20" y2="${20 + plotHeight}" class="axis"/><line x1="${left}" x2="${left + plotWidth}" y1="${20 + plotHeight}" y2="${20 + plotHeight}" class="axis"/>`;
  return (
    `<figure><figcaption>${escapeHtml(title)} (one line per run)</figcaption>` +
    `<svg viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="${escapeHtml(title)}">${axis}${lines.join("")}</svg></figure>`
  );
}

function table(headers: string[], rows: string[][]): string {
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const body = rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join("")}</tr>`).join("");
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function modeSection(result: ModeResult): string {
  const parts = [
    `<section><h2>${escapeHtml(result.title)}</h2><p>${result.runs} run${result.runs === 1 ? "" : "s"}; bars are medians, whiskers the range.</p>`,
  ];
  const units = [...new Set(result.measurements.map((m) => m.unit))];
  for (const unit of units) {
    const bars = result.measurements
      .filter((m) => m.unit === unit)
      .map((m) => ({ label: `${m.id}`, value: m.rate, text: `${formatSpread(m.rate, formatNumber)} ${unit}` }));
    parts.push(barChart(`Throughput (${unit})`, bars));
  }
  const latencyBars = result.measurements.flatMap((m) =>
    m.latency
      ? (["p50", "p95", "p99"] as const).map((p) => ({
          label: `${m.id} ${p}`,
          value: m.latency?.[p] as Spread,
          text: `${formatSpread(m.latency?.[p], formatNumber)} ms`,
        }))
      : [],
  );
  parts.push(barChart("Latency (ms)", latencyBars));
  const ratioBars = result.ratios.flatMap((r) => (r.value ? [{ label: r.label, value: r.value, text: formatSpread(r.value, formatNumber) }] : []));
  parts.push(barChart("Ratios", ratioBars, { at: 1, label: "1×" }));
  const seriesNames = [...new Set(result.perRun.flatMap((run) => run.measurements.flatMap((m) => (m.series ?? []).map((s) => `${m.id}\u0000${s.name}`))))];
  for (const key of seriesNames) {
    const [id, name] = key.split("\u0000") as [string, string];
    const runs = result.perRun.flatMap((run) => run.measurements.filter((m) => m.id === id).flatMap((m) => (m.series ?? []).filter((s) => s.name === name)));
    parts.push(lineChart(`${id}: ${name}`, runs));
  }
  parts.push(
    table(
      ["id", "figure", "rate", "unit", "p50 ms", "p95 ms", "p99 ms", "runs"],
      result.measurements.map((m) => [
        m.id,
        m.label,
        formatSpread(m.rate, formatNumber),
        m.unit,
        formatSpread(m.latency?.p50, formatNumber),
        formatSpread(m.latency?.p95, formatNumber),
        formatSpread(m.latency?.p99, formatNumber),
        String(m.runs),
      ]),
    ),
  );
  const gauges = result.measurements.flatMap((m) => Object.entries(m.gauges ?? {}).map(([name, value]) => [m.id, name, formatSpread(value, formatNumber)]));
  if (gauges.length > 0) parts.push(table(["id", "gauge", "value"], gauges));
  parts.push(
    table(
      ["ratio", "median (min–max)"],
      result.ratios.map((r) => [r.label, formatSpread(r.value, formatNumber)]),
    ),
  );
  parts.push(
    table(
      ["check", "", "detail"],
      result.checks.map((c) => [c.label, c.ok ? "ok" : "FAIL", c.detail]),
    ),
  );
  parts.push("</section>");
  return parts.join("\n");
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1b1f24; max-width: 80rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2.5rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1rem 0; } td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; vertical-align: top; }
figure { margin: 1rem 0; } figcaption { font-weight: 600; }
svg text { font-size: 12px; fill: #1b1f24; }
.bar { fill: #4a7bd0; } .whisker { stroke: #1b1f24; stroke-width: 1.5; } .goal { stroke: #c0392b; stroke-dasharray: 4 3; } .goal-text { fill: #c0392b; }
.axis { stroke: #888; } .line { fill: none; stroke-width: 1.5; }
.line-0 { stroke: #4a7bd0; } .line-1 { stroke: #e67e22; } .line-2 { stroke: #27ae60; } .line-3 { stroke: #8e44ad; } .line-4 { stroke: #c0392b; }
.fail { color: #c0392b; font-weight: 600; }
`;

export function renderHtml(results: BenchResults): string {
  const machine = results.machine
    ? `${results.machine.cpus} × ${results.machine.cpuModel}, node ${results.machine.node}, load average ${results.machine.loadAverageAtStart.map((v) => v.toFixed(2)).join(" ")} at start`
    : "unknown";
  const header = [
    `<h1>Tidemark bench, ${escapeHtml(results.startedAt)}</h1>`,
    `<p>${results.ok ? "All checks passed." : '<span class="fail">Some checks FAILED: these figures are not to be trusted.</span>'}</p>`,
    table(
      ["", ""],
      [
        ["command", results.command],
        ["machine", machine],
        ["repeat", String(results.repeat)],
        ["finished", results.finishedAt],
      ],
    ),
  ];
  return [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>Tidemark bench ${escapeHtml(results.startedAt)}</title>`,
    `<style>${STYLE}</style></head><body>`,
    ...header,
    ...Object.values(results.modes).map(modeSection),
    "</body></html>",
    "",
  ].join("\n");
}
