/**
 * CPU time spent by the processes under test during a measured window: the
 * app (or the node:http floor), the PostgreSQL backends serving the bench
 * database, and the bench process itself (the load generator).
 *
 * On a machine whose cores are shared, CPU time per request is a steadier
 * figure than requests per second: it does not fall because another process
 * took the core, and it says where the work goes. It also tells whether the
 * app was saturated (≈1 core for a single-threaded Node.js server) or
 * waiting. Read from /proc, so Linux only; elsewhere the figures are absent.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

function clockTicksPerSecond(): number {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100; // the Linux default, wherever getconf is missing
  }
}

let ticksPerSecond: number | undefined;

/** User + system CPU seconds of `pid` so far, or null if it is gone or /proc is not there. */
export function processCpuSeconds(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // Fields after the parenthesised command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  ticksPerSecond ??= clockTicksPerSecond();
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

export interface CpuSource {
  label: string;
  /** The processes to watch, resolved just before the window opens (after the warm-up has opened the pools). */
  pids(): Promise<number[]>;
}

export type CpuSeconds = Record<string, number>;

/** Samples its sources at open() and close(), synchronously, so it can sit at the window's exact edges. */
export class CpuMeter {
  private resolved: { label: string; pids: number[] }[] = [];
  private opened: { perPid: Map<number, number>[]; bench: NodeJS.CpuUsage } | null = null;

  constructor(private readonly sources: readonly CpuSource[]) {}

  async prepare(): Promise<void> {
    this.resolved = await Promise.all(this.sources.map(async (source) => ({ label: source.label, pids: await source.pids() })));
  }

  private sample(): Map<number, number>[] {
    return this.resolved.map(({ pids }) => {
      const perPid = new Map<number, number>();
      for (const pid of pids) {
        const seconds = processCpuSeconds(pid);
        if (seconds !== null) perPid.set(pid, seconds);
      }
      return perPid;
    });
  }

  open(): void {
    this.opened = { perPid: this.sample(), bench: process.cpuUsage() };
  }

  /** CPU seconds per source since open(); a process that ended in between is left out. Null if never opened. */
  close(): CpuSeconds | null {
    if (!this.opened) return null;
    const { perPid: before, bench } = this.opened;
    const after = this.sample();
    const used: CpuSeconds = {};
    this.resolved.forEach(({ label }, i) => {
      let seconds = 0;
      for (const [pid, end] of after[i] ?? []) {
        const start = before[i]?.get(pid);
        if (start !== undefined) seconds += end - start;
      }
      used[label] = seconds;
    });
    const benchUsage = process.cpuUsage(bench);
    used.bench = (benchUsage.user + benchUsage.system) / 1e6;
    this.opened = null;
    return used;
  }
}
