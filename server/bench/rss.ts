/**
 * The app's resident set size over a run: read from /proc every second (Linux
 * only; elsewhere there are no samples and no figures), and summarised as
 * gauges (start, max, end, the first and last tenth's means and their
 * difference: a flat run has a growth near 0) and a series for the charts.
 */
import { readFileSync } from "node:fs";
import type { Series } from "./report.ts";

export const RSS_SAMPLE_MS = 1_000;

/** Resident set size of `pid` in MB, or null where /proc is not there. */
export function rssMegabytes(pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Samples the app's RSS every second while a run goes; stop() gives the samples (MB). */
export function sampleRss(pid: number): { stop(): number[] } {
  const samples: number[] = [];
  const take = () => {
    const mb = rssMegabytes(pid);
    if (mb !== null) samples.push(mb);
  };
  take();
  const timer = setInterval(take, RSS_SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

/** The RSS samples as gauges (MB): start, max, end, the means of the first and last tenth and their difference (flat ≈ 0). */
export function rssGauges(samples: readonly number[]): Record<string, number> {
  if (samples.length === 0) return {};
  const tenth = Math.max(1, Math.floor(samples.length / 10));
  const average = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const first = average(samples.slice(0, tenth));
  const last = average(samples.slice(-tenth));
  return {
    rssStartMb: samples[0] as number,
    rssMaxMb: Math.max(...samples),
    rssEndMb: samples[samples.length - 1] as number,
    rssFirstTenthMb: first,
    rssLastTenthMb: last,
    rssGrowthMb: last - first,
  };
}

export function rssSeries(samples: number[]): Series[] {
  return samples.length === 0 ? [] : [{ name: "app RSS", unit: "MB", everyMs: RSS_SAMPLE_MS, values: samples }];
}

export function rssNote(samples: number[]): string[] {
  if (samples.length === 0) return [];
  const g = rssGauges(samples);
  const mb = (value: number | undefined) => `${(value ?? 0).toFixed(0)} MB`;
  return [
    `app RSS over the run (every ${RSS_SAMPLE_MS / 1000} s): start ${mb(g.rssStartMb)}, max ${mb(g.rssMaxMb)}, end ${mb(g.rssEndMb)}; ` +
      `mean of the first tenth ${mb(g.rssFirstTenthMb)}, of the last ${mb(g.rssLastTenthMb)}`,
  ];
}
