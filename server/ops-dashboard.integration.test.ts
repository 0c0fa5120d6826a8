/**
 * The operations examples under docs/ops/ fit the real /api/metrics:
 * - every metric name in a PromQL expression of the Grafana dashboard
 *   (grafana-dashboard.json) is in this app's exposition (a histogram's
 *   _bucket, _sum and _count series included), so no panel stays empty
 *   because of a typo or a renamed metric; the control, the same dashboard
 *   with one name misspelled, is caught and named;
 * - the Prometheus scrape example (prometheus.yml) scrapes /api/metrics and
 *   passes `promtool check config`.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { scrapeMetrics } from "../test/metrics.ts";
import { PROJECT_ROOT } from "./setup/paths.ts";

const DASHBOARD = path.join(PROJECT_ROOT, "docs", "ops", "grafana-dashboard.json");
const SCRAPE_CONFIG = path.join(PROJECT_ROOT, "docs", "ops", "prometheus.yml");
// On a developer's machine without promtool the config check is skipped; CI (.ci/run installs it) never skips it.
const promtool = spawnSync("promtool", ["--version"]).status === 0 || Boolean(process.env.CI);

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

/** Every PromQL expression of the dashboard's panels (rows' nested panels included), with its panel's title. */
function expressions(dashboard: { panels: Panel[] }): { panel: string; expr: string }[] {
  const walk = (panels: Panel[]): { panel: string; expr: string }[] =>
    panels.flatMap((panel) => [
      ...(panel.targets ?? []).flatMap((target) => (target.expr ? [{ panel: panel.title ?? "", expr: target.expr }] : [])),
      ...walk(panel.panels ?? []),
    ]);
  return walk(dashboard.panels);
}

/**
 * The metric names a PromQL expression selects: identifiers once strings, label matchers, ranges, grouping
 * label lists and Grafana variables are removed, that are not function calls, keywords or numbers.
 */
function metricNames(expr: string): string[] {
  const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless", "inf", "nan"]);
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, " ")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\$\{?\w+\}?/g, " ");
  const names = new Set<string>();
  for (const match of bare.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const name = match[1] as string;
    if (match[2] === undefined && !KEYWORDS.has(name.toLowerCase())) names.add(name);
  }
  return [...names];
}

/** The series names an exposition offers: every sample's, and each declared metric's with its type's suffixes. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [name, type] = [match[1] as string, match[2] as string];
    names.add(name);
    if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${name}${suffix}`);
    if (type === "summary") for (const suffix of ["_sum", "_count"]) names.add(`${name}${suffix}`);
  }
  for (const match of text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/gm)) names.add(match[1] as string);
  return names;
}

/** Names used by the dashboard that the exposition lacks, as "name (panel)". */
function missingNames(dashboard: { panels: Panel[] }, exposed: Set<string>): string[] {
  return expressions(dashboard).flatMap(({ panel, expr }) => metricNames(expr).flatMap((name) => (exposed.has(name) ? [] : [`${name} (${panel})`])));
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as { panels: Panel[]; title: string };

describe("docs/ops/grafana-dashboard.json", () => {
  it("reads metric names out of PromQL: not functions, label names, ranges, keywords or variables", () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{job="$job",route!="x"}[$__rate_interval]))) / on (job) group_left up offset 5m > bool 1e3',
      ).sort(),
    ).toEqual(["http_request_duration_seconds_bucket", "up"]);
  });

  it("uses only metric names that /api/metrics exposes", async () => {
    const exposed = exposedNames(await scrapeMetrics());
    const used = new Set(expressions(dashboard).flatMap(({ expr }) => metricNames(expr)));
    // The dashboard covers every area: ingestion, backlog, workers, collector, caches, the process.
    expect(used.size).toBeGreaterThanOrEqual(20);
    for (const name of [
      "tidemark_collector_source_lag_seconds",
      "tidemark_cache_requests_total",
      "tidemark_backlog_pending_events",
      "process_cpu_seconds_total",
    ]) {
      expect(used).toContain(name);
    }
    expect(missingNames(dashboard, exposed)).toEqual([]);
  });

  it("control: the same dashboard with one name misspelled is caught, and the name and panel given", async () => {
    const exposed = exposedNames(await scrapeMetrics());
    const misspelled = JSON.parse(
      JSON.stringify(dashboard).replace("tidemark_collector_source_lag_seconds", "tidemark_collector_source_lag_second"),
    ) as typeof dashboard;
    expect(missingNames(misspelled, exposed)).toEqual(["tidemark_collector_source_lag_second (Source lag)"]);
  });
});

describe("docs/ops/prometheus.yml", () => {
  it("scrapes /api/metrics", () => {
    expect(readFileSync(SCRAPE_CONFIG, "utf8")).toMatch(/^\s+metrics_path: \/api\/metrics$/m);
  });

  it.runIf(promtool)("passes promtool check config (with its token file in place)", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tidemark-prometheus-"));
    copyFileSync(SCRAPE_CONFIG, path.join(dir, "prometheus.yml"));
    writeFileSync(path.join(dir, "tidemark-metrics-token"), "a-metrics-token-of-32-characters\n", { mode: 0o600 });
    const check = spawnSync("promtool", ["check", "config", path.join(dir, "prometheus.yml")], { encoding: "utf8" });
    expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
  });
});
