/**
 * Closed-loop SQL load from the bench process: `connections` dedicated
 * connections, each running its next statement as soon as the previous one
 * returns, for a warm-up and then a measured window.
 *
 * Every statement is autocommitted, so a completed statement is a committed
 * one, as a 202 is for the webhook. The rate counts statements that
 * completed inside the window; those in flight when it closes are awaited
 * (and counted in `totalStatements`, warm-up included) but not in the rate.
 *
 * These are the bench's own connections, not the app's pool: the point is
 * the database's floor with no app in between, at a concurrency the bench
 * chooses.
 */
import pg from "pg";
import { performance } from "node:perf_hooks";
import type { CpuMeter, CpuSeconds } from "./cpu.ts";
import { LatencyRecorder, type LatencySummary } from "./percentiles.ts";

export interface Statement {
  /** When set, prepared once per connection under this name (pg's named statements) and then only bound and executed. */
  name?: string;
  text: string;
  values: unknown[];
}

export interface SqlLoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** Statement number `seq` (0, 1, … across all connections and both phases). */
  statement: (seq: number) => Statement;
  rowsPerStatement: number;
  /** Measures CPU over the measured window (prepared after the warm-up, when the connections exist). */
  meter?: CpuMeter;
}

export interface SqlLoadResult {
  /** Statements completed inside the window. */
  statements: number;
  seconds: number;
  /** Rows per second: statements × rowsPerStatement ÷ seconds. */
  rate: number;
  statementRate: number;
  latency: LatencySummary | null;
  /** Every statement that completed, warm-up and drain included. */
  totalStatements: number;
  warmupRate: number;
  cpu: CpuSeconds | null;
}

export async function runSqlLoad(options: SqlLoadOptions): Promise<SqlLoadResult> {
  const clients = Array.from({ length: options.connections }, () => {
    const client = new pg.Client({ connectionString: options.url, application_name: "tidemark-bench" });
    // A lost connection also fails the query in flight, which ends the run with that error; without
    // a listener, the 'error' event itself would crash the process (e.g. while Ctrl-C drops the database).
    client.on("error", () => undefined);
    return client;
  });
  let seq = 0;
  let totalStatements = 0;
  try {
    await Promise.all(clients.map((client) => client.connect()));

    const phase = async (seconds: number, meter?: CpuMeter) => {
      const latency = new LatencyRecorder();
      let statements = 0;
      let cpu: CpuSeconds | null = null;
      meter?.open();
      const start = performance.now();
      const end = start + seconds * 1000;
      const closer = setTimeout(() => (cpu = meter?.close() ?? null), seconds * 1000);
      await Promise.all(
        clients.map(async (client) => {
          while (performance.now() < end) {
            const statement = options.statement(seq++);
            const sent = performance.now();
            await client.query(statement);
            const done = performance.now();
            totalStatements++;
            if (done <= end) {
              statements++;
              latency.record(done - sent);
            }
          }
        }),
      );
      clearTimeout(closer);
      cpu ??= meter?.close() ?? null; // the timer had no turn before the last statement returned
      return { statements, seconds, latency: latency.summary(), cpu };
    };

    const warmup = await phase(options.warmupSeconds);
    await options.meter?.prepare();
    const measured = await phase(options.durationSeconds, options.meter);
    return {
      statements: measured.statements,
      seconds: measured.seconds,
      rate: (measured.statements * options.rowsPerStatement) / measured.seconds,
      statementRate: measured.statements / measured.seconds,
      latency: measured.latency,
      totalStatements,
      warmupRate: warmup.seconds > 0 ? (warmup.statements * options.rowsPerStatement) / warmup.seconds : 0,
      cpu: measured.cpu,
    };
  } finally {
    await Promise.all(
      clients.map((client) => client.end().catch((error: Error) => process.stderr.write(`bench: closing a load connection failed: ${error.message}\n`))),
    );
  }
}
