/**
 * `npm run bench -- [mode…] [--duration S] [--warmup S] [--connections N] [--repeat N] [--open-seconds S] [--profile]`
 *
 * Runs the named bench modes (all of them when none is named), each
 * `--repeat` times, against the real production app on a fresh local
 * database, prints a table per run on stdout, a summary (median and range of
 * every figure and ratio) per mode after its last run and, last, one JSON
 * line with every figure; the same document and an HTML page with charts are
 * written under bench/results/ (server/bench/results.ts). Progress goes to stderr.
 * Exits 1 if any mode failed its checks (a figure made of errors is no
 * figure). The database, the app processes and the Redis keys are removed
 * at the end, on Ctrl-C too.
 *
 * The work is in server/bench/; modes are registered in server/bench/modes.ts.
 */
import os from "node:os";
import path from "node:path";
import { BenchUsageError, parseBenchArgs, usage } from "../bench/args.ts";
import { Cleanup } from "../bench/cleanup.ts";
import { openHarness, type Harness } from "../bench/harness.ts";
import { MODES, type ModeEntry } from "../bench/modes.ts";
import { BenchFailure, renderReport, type ModeReport } from "../bench/report.ts";
import { RESULTS_SCHEMA, modeResults, writeResults, type BenchResults } from "../bench/results.ts";
import { renderSummary, summarizeMode } from "../bench/summary.ts";
import { PROJECT_ROOT } from "../setup/paths.ts";
import { ConfigError, parseEnv } from "../env-schema.ts";

const DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres";
const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

const say = (line: string) => process.stderr.write(`bench: ${line}\n`);

let args;
try {
  args = parseBenchArgs(
    process.argv.slice(2),
    MODES.map((mode) => mode.name),
  );
} catch (error) {
  if (!(error instanceof BenchUsageError)) throw error;
  process.stderr.write(`bench: ${error.message}\n\n${usage(MODES)}\n`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write(`${usage(MODES)}\n`);
  process.exit(0);
}
try {
  parseEnv(process.env); // a bad inherited value stops the bench before it creates anything
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  say(error.message);
  process.exit(2);
}
const chosen = args.modes;
const selected = chosen.length === 0 ? MODES : chosen.map((name) => MODES.find((mode) => mode.name === name) as ModeEntry);

const cleanup = new Cleanup();
let stoppedBy: NodeJS.Signals | null = null;
let stoppedAt = 0;
const signalExitCode = (signal: NodeJS.Signals) => (signal === "SIGINT" ? 130 : 143);
// Listening with `on`, not `once`: one Ctrl-C can arrive twice (the terminal's, and tsx relaying it), so
// a repeat within a second is that echo; with no listener left, tsx would end the process mid-cleanup.
function onSignal(signal: NodeJS.Signals): void {
  if (stoppedBy) {
    if (Date.now() - stoppedAt > 1_000) {
      say(`${signal} again: exiting without finishing the cleanup`);
      process.exit(signalExitCode(signal));
    }
    return;
  }
  stoppedBy = signal;
  stoppedAt = Date.now();
  say(`${signal}: stopping the app and dropping the bench database… (Ctrl-C again to skip that)`);
  void cleanup.run().finally(() => process.exit(signalExitCode(signal)));
}
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

const startedAt = new Date();
const reports: ModeReport[] = [];
let ok = true;
let harness: Harness | null = null;
try {
  harness = await openHarness({
    // Only the server of DATABASE_URL is used (the bench makes a database of its own there), and only if it is local.
    serverUrl: process.env.DATABASE_URL ?? DEFAULT_SERVER_URL,
    redisUrl: process.env.REDIS_URL ?? DEFAULT_REDIS_URL,
    options: args.options,
    cleanup,
  });
  process.stdout.write(`Tidemark bench, ${startedAt.toISOString()}\n\n`);
  for (const entry of selected) {
    const runs: ModeReport[] = [];
    for (let run = 1; run <= args.repeat && !stoppedBy; run++) {
      const of = args.repeat > 1 ? ` (run ${run} of ${args.repeat})` : "";
      if (of) say(`${entry.name}${of}`);
      try {
        const report = await harness.runMode(await entry.load());
        runs.push(report);
        process.stdout.write(`${renderReport({ ...report, title: report.title + of })}\n`);
        if (report.checks.some((check) => !check.ok)) ok = false;
      } catch (error) {
        if (!(error instanceof BenchFailure)) throw error;
        ok = false;
        runs.push(error.report);
        process.stdout.write(`${renderReport({ ...error.report, title: error.report.title + of })}\n`);
        say(`${entry.name}${of} FAILED: ${error.message}`);
      }
    }
    reports.push(...runs);
    if (runs.length > 1) process.stdout.write(`${renderSummary(summarizeMode(runs))}\n`);
    if (stoppedBy) break;
  }
} catch (error) {
  ok = false;
  // After Ctrl-C, whatever the interrupted run threw is a consequence of stopping, not news.
  if (!stoppedBy) say(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  await cleanup.run(); // after a signal, the same pass as the handler's
}
if (stoppedBy) process.exit(signalExitCode(stoppedBy));

if (harness?.profileDir) say(`CPU profiles of the app: ${harness.profileDir}`);
const results: BenchResults = {
  bench: "tidemark",
  schema: RESULTS_SCHEMA,
  ok,
  startedAt: startedAt.toISOString(),
  finishedAt: new Date().toISOString(),
  command: ["npm run bench --", ...process.argv.slice(2)].join(" "),
  repeat: args.repeat,
  machine: harness ? { ...harness.machine, loadAverageAtEnd: os.loadavg() } : null,
  options: args.options,
  profileDir: harness?.profileDir ?? null,
  modes: modeResults(reports),
};
if (reports.length > 0) {
  const written = await writeResults(path.join(PROJECT_ROOT, "bench", "results"), results);
  say(`results: ${written.json} and ${written.html}`);
}
process.stdout.write(`${JSON.stringify(results)}\n`);
process.exit(ok ? 0 : 1);
