/**
 * The stampede experiment shared by the cache's integration test and
 * `npm run bench -- cache`: real child processes (stampede-child.ts) reading
 * hot keys through Tidemark's cache or a naive one on one Redis, and the
 * count that judges them, loads per key per expiry.
 *
 * A key's loads are grouped into bursts, a burst being the loads that follow
 * its first by less than half the shortest TTL (no entry can expire again
 * sooner): one burst is one expiry, and the loads in it are what that expiry
 * cost. A cache without a stampede has one load per burst.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { PROJECT_ROOT } from "../setup/paths.ts";

export type StampedeCache = "ours" | "naive";

export interface StampedeArgs {
  keys: number;
  readers: number;
  durationMs: number;
  ttlMs: number;
  loadMs: number;
}

export interface StampedeReport {
  reads: number;
  /** Every load the process made: its key and when (epoch ms). */
  loads: [string, number][];
}

const CHILD = path.join(PROJECT_ROOT, "server/cache/stampede-child.ts");

/**
 * One stampede process against the Redis its environment names. Its stderr
 * goes to `onStderr` (or this process's own); `onSpawn` sees the child (the
 * bench registers it to be killed with the bench).
 */
export function runStampedeProcess(
  cache: StampedeCache,
  args: StampedeArgs,
  childEnv: NodeJS.ProcessEnv,
  options: { onSpawn?: (child: ChildProcess) => void; onStderr?: (text: string) => void } = {},
): Promise<StampedeReport> {
  return new Promise((resolve, reject) => {
    const argv = [cache, ...[args.keys, args.readers, args.durationMs, args.ttlMs, args.loadMs].map(String)];
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, ...argv], { cwd: PROJECT_ROOT, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    options.onSpawn?.(child);
    let out = "";
    const kept: string[] = [];
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      kept.push(text.trim());
      if (kept.length > 20) kept.shift();
      (options.onStderr ?? ((line: string) => process.stderr.write(line)))(text);
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split("\n").at(-1) as string) as StampedeReport)
        : reject(new Error(`stampede process (${cache}) exited ${code}: ${kept.join(" / ")}`)),
    );
  });
}

/** The most loads of one key in one expiry, the mean, and how many expiries (see the header). */
export function loadsPerExpiry(loads: readonly [string, number][], minTtlMs: number): { most: number; mean: number; expiries: number } {
  const byKey = new Map<string, number[]>();
  for (const [key, at] of loads) byKey.set(key, [...(byKey.get(key) ?? []), at]);
  const bursts: number[] = [];
  for (const times of byKey.values()) {
    times.sort((a, b) => a - b);
    let start = -Infinity;
    for (const at of times) {
      if (at - start >= minTtlMs / 2) {
        bursts.push(0);
        start = at;
      }
      bursts[bursts.length - 1] = (bursts.at(-1) as number) + 1;
    }
  }
  return { most: Math.max(0, ...bursts), mean: bursts.length === 0 ? 0 : bursts.reduce((a, b) => a + b, 0) / bursts.length, expiries: bursts.length };
}
