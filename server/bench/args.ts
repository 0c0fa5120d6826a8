/**
 * The bench's command line: `[mode…] [--duration S] [--warmup S]
 * [--connections N] [--repeat N] [--open-seconds S] [--profile] [--help]`. Pure, so it is tested without
 * running anything; a bad argument is a BenchUsageError naming it.
 */
import { parseArgs } from "node:util";
import type { BenchOptions } from "./harness.ts";

export class BenchUsageError extends Error {
  override name = "BenchUsageError";
}

export interface BenchArgs {
  help: boolean;
  /** Mode names, in the order given; empty means every registered mode. */
  modes: string[];
  /** Runs of each mode (each on fresh apps and tenants); figures are summarised as median and range. */
  repeat: number;
  options: BenchOptions;
}

export const DEFAULT_DURATION_SECONDS = 10;
/** The open-model run (ingest g): long enough to see whether the app's memory stays flat. */
export const DEFAULT_OPEN_SECONDS = 60;

/** A fifth of the run, between 1 and 3 seconds: long enough to load the routes and warm the JIT and pools. */
export function defaultWarmupSeconds(durationSeconds: number): number {
  return Math.min(3, Math.max(1, Math.round(durationSeconds / 5)));
}

function number(name: string, raw: string | undefined, min: number, max: number, integer: boolean): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new BenchUsageError(`--${name} must be ${integer ? "an integer" : "a number"} from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  }
  return value;
}

export function parseBenchArgs(argv: string[], knownModes: readonly string[]): BenchArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        duration: { type: "string" },
        warmup: { type: "string" },
        connections: { type: "string" },
        repeat: { type: "string" },
        "open-seconds": { type: "string" },
        profile: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new BenchUsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const unknown = positionals.filter((mode) => !knownModes.includes(mode));
  if (unknown.length > 0) throw new BenchUsageError(`unknown mode ${unknown.join(", ")}; the modes are: ${knownModes.join(", ")}`);

  const durationSeconds = number("duration", values.duration, 1, 3_600, false) ?? DEFAULT_DURATION_SECONDS;
  return {
    help: values.help,
    modes: [...new Set(positionals)],
    repeat: number("repeat", values.repeat, 1, 100, true) ?? 1,
    options: {
      durationSeconds,
      warmupSeconds: number("warmup", values.warmup, 0, 600, false) ?? defaultWarmupSeconds(durationSeconds),
      connections: number("connections", values.connections, 1, 10_000, true),
      openSeconds: number("open-seconds", values["open-seconds"], 1, 3_600, false) ?? DEFAULT_OPEN_SECONDS,
      profile: values.profile,
    },
  };
}

export function usage(modes: readonly { name: string; summary: string }[]): string {
  return [
    "usage: npm run bench -- [mode…] [--duration S] [--warmup S] [--connections N] [--repeat N] [--open-seconds S] [--profile]",
    "",
    "  mode             one or more of the modes below; none runs them all, in this order",
    `  --duration S     seconds measured per figure (default ${DEFAULT_DURATION_SECONDS})`,
    "  --warmup S       seconds of warm-up before each figure (default: a fifth of the duration, 1–3 s)",
    "  --connections N  concurrency of the high-concurrency runs (ingest: 50)",
    "  --repeat N       run each mode N times; report the median and range (min–max) of every figure and ratio",
    `  --open-seconds S length of ingest's fixed-rate run, where the app's RSS is sampled (default ${DEFAULT_OPEN_SECONDS})`,
    "  --profile        run the app under node --cpu-prof; the profiles' directory is printed",
    "",
    "Results: each run also writes bench/results/bench-<start>.json (every figure) and .html (charts).",
    "",
    "modes:",
    ...modes.map((mode) => `  ${mode.name.padEnd(16)} ${mode.summary}`),
    "",
    "Needs a local PostgreSQL (DATABASE_URL's server, else 127.0.0.1:5432; the bench creates and drops a",
    "database of its own there) and Redis (REDIS_URL, else redis://127.0.0.1:6379; keys under a prefix of its own).",
  ].join("\n");
}
