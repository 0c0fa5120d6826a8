/**
 * The bookkeeping every mode shares: its table of measurements, its checks
 * (a failed one ends the mode with what was measured so far), and runs with
 * the bench's duration and warm-up, announced on stderr as they go.
 */
import type { BenchContext } from "./harness.ts";
import { runHttpLoad, type HttpLoadOptions, type HttpLoadResult } from "./http-load.ts";
import { BenchFailure, cpuFigures, formatCount as n, type Check, type Measurement, type ModeReport, type Ratio, type Unit } from "./report.ts";
import { runSqlLoad, type SqlLoadOptions, type SqlLoadResult } from "./sql-load.ts";

export class ModeRun {
  readonly measurements: Measurement[] = [];
  readonly checks: Check[] = [];
  /** Lines printed above the table. */
  readonly context: string[] = [];

  constructor(
    private readonly ctx: BenchContext,
    private readonly heading: { mode: string; title: string; ratios: (measurements: readonly Measurement[]) => Ratio[] },
  ) {
    const { machine } = ctx;
    const load = machine.loadAverageAtStart.map((average) => average.toFixed(2)).join(" ");
    this.context.push(`machine: ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}, load average at start ${load}`);
  }

  /** What has been measured so far: the mode's result, or what a failure carries. */
  report(): ModeReport {
    return {
      mode: this.heading.mode,
      title: this.heading.title,
      context: this.context,
      measurements: this.measurements,
      ratios: this.heading.ratios(this.measurements),
      checks: this.checks,
    };
  }

  /** Records a check; a failed one ends the mode with a BenchFailure carrying the report so far. */
  check(label: string, ok: boolean, detail: string): void {
    this.checks.push({ label, ok, detail });
    if (!ok) throw new BenchFailure(`${label}: ${detail}`, this.report());
  }

  /** An HTTP run (priming, warm-up, measured window) with the bench's duration, and progress on stderr. */
  async http(label: string, options: Omit<HttpLoadOptions, "durationSeconds" | "warmupSeconds" | "afterWarmup">): Promise<HttpLoadResult> {
    const { durationSeconds, warmupSeconds } = this.ctx.options;
    this.ctx.announce(`${label}: ${warmupSeconds} s warm-up + ${durationSeconds} s at ${options.connections} connections`);
    const result = await runHttpLoad({
      ...options,
      durationSeconds,
      warmupSeconds,
      afterWarmup: (warmup) => this.ctx.announce(`${label}: warm-up ${Math.round(warmup.rate)} req/s`),
    });
    this.ctx.announce(`${label}: ${Math.round(result.rate)} req/s`);
    return result;
  }

  /** A SQL run on the bench database with the bench's duration, and progress on stderr. */
  async sql(label: string, options: Omit<SqlLoadOptions, "durationSeconds" | "warmupSeconds" | "url">): Promise<SqlLoadResult> {
    const { durationSeconds, warmupSeconds } = this.ctx.options;
    this.ctx.announce(`${label}: ${warmupSeconds} s warm-up + ${durationSeconds} s on ${options.connections} connections`);
    const result = await runSqlLoad({ ...options, durationSeconds, warmupSeconds, url: this.ctx.database.url });
    this.ctx.announce(`${label}: ${Math.round(result.rate)} rows/s`);
    return result;
  }

  /** Fails the mode unless every response of the run (warm-up included) had `status` and none was lost. */
  expectOnly(label: string, result: HttpLoadResult, status: number): void {
    const others = Object.entries(result.allStatuses).filter(([code]) => code !== String(status));
    const errors = result.errors + result.warmup.errors;
    const timeouts = result.timeouts + result.warmup.timeouts;
    const problems = [
      ...others.map(([code, count]) => `${n(count)} × ${code}`),
      ...(errors > 0 ? [`${n(errors)} connection errors (${n(timeouts)} timeouts)`] : []),
    ];
    const total = Object.values(result.allStatuses).reduce((sum, count) => sum + count, 0);
    this.check(
      `${label} answers`,
      problems.length === 0,
      problems.length === 0 ? `all ${n(total)} responses ${status}` : `expected only ${status}, got ${problems.join(", ")}`,
    );
  }

  /** Adds an HTTP run's figures to the table; `perRequest` units (events) per request. */
  measureHttp(id: string, label: string, unit: Unit, result: HttpLoadResult, connections: number, perRequest = 1, notes: string[] = []): void {
    this.measurements.push({
      id,
      label,
      unit,
      rate: result.rate * perRequest,
      count: result.responses * perRequest,
      seconds: result.seconds,
      connections,
      ...(perRequest > 1 ? { requestRate: result.rate } : {}),
      latency: result.latency,
      statuses: result.allStatuses,
      cpu: cpuFigures(result.cpu, result.responses * perRequest, result.seconds),
      notes,
    });
  }

  /** Adds a SQL run's figures to the table. */
  measureSql(id: string, label: string, result: SqlLoadResult, connections: number, rowsPerStatement: number): void {
    this.measurements.push({
      id,
      label,
      unit: "rows/s",
      rate: result.rate,
      count: result.statements * rowsPerStatement,
      seconds: result.seconds,
      connections,
      ...(rowsPerStatement > 1 ? { requestRate: result.statementRate } : {}),
      latency: result.latency,
      cpu: cpuFigures(result.cpu, result.statements * rowsPerStatement, result.seconds),
      notes: [],
    });
  }
}
