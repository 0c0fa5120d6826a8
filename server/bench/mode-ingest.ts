/**
 * `npm run bench -- ingest`: what accepting events costs, beside the floors
 * under it, all measured in one run on one machine:
 *
 *   a) raw node:http no-op            — the HTTP floor
 *   b) Next.js POST /api/noop         — the framework floor (same production app)
 *   c) signed single-event webhook    — events/s, each request a fresh signed event, answered by
 *                                        the production server's fast path (group commit); the app's
 *                                        RSS is sampled every second and reported with it
 *   d) batch webhook, 500 per request — events/s
 *   e) raw pg multi-row INSERT        — rows/s, the same rows into the same table: d's floor
 *   f) raw pg single-row INSERT       — rows/s, committed one by one: c's database floor
 *
 * e) and f) run from the bench process on connections of its own, with the
 * statements prepared (see rowInserts).
 *
 * The floors receive the same bytes as the webhook (a signed event of the
 * same size), so the difference between them is the work, not the payload.
 * Every webhook answer must be 202 and every stored row accounted for: after
 * the runs, the rows of each tenant are compared with the answers it got, and
 * anything else fails the mode instead of printing a figure made of errors.
 */
import { readFileSync } from "node:fs";
import { pool } from "../db.ts";
import { parseEnv } from "../env-schema.ts";
import { generateSecret } from "../ingest/signature.ts";
import type { AppServer } from "./app-server.ts";
import { CpuMeter } from "./cpu.ts";
import { SignedRequestSource, batchPayload, eventRow, multiRowInsert, signRequest, singleEventPayload, syntheticEvent } from "./signed-events.ts";
import type { BenchContext, BenchMode, BenchTenant } from "./harness.ts";
import type { FixedRequest } from "./http-load.ts";
import { ModeRun } from "./mode-run.ts";
import { cpuRatio, formatCount as n, ratio, type Measurement } from "./report.ts";
import type { Statement } from "./sql-load.ts";

const DEFAULT_CONNECTIONS = 50;
/** "A few" connections for the 500-event runs: enough to overlap parsing with commits, few enough not to thrash 2 cores. */
const BATCH_CONNECTIONS = 4;
const BATCH_SIZE = 500;
/** Distinct row contents the raw-SQL runs cycle through (each row still gets a fresh event id). */
const ROW_TEMPLATES = 10_000;
/** Requests signed ahead of a run: the rate of the run's own floor, times the run's length, times this. */
const PRESIGN_HEADROOM = 1.5;
/** c) is sized for this share of the node:http floor's rate (the fast path's target is 0.2 of it); beyond, it signs live and says so. */
const SINGLE_SHARE_OF_HTTP_FLOOR = 0.5;
const MAX_PRESIGNED_SINGLE = 400_000;
const RSS_SAMPLE_MS = 1_000;
const MAX_PRESIGNED_BATCH_BYTES = 256 * 1024 * 1024;

const ratios = (m: readonly Measurement[]) => [
  ratio(m, "webhook ÷ Next.js no-op (c/b)", "webhook-single", "next-noop"),
  ratio(m, "webhook ÷ node:http (c/a)", "webhook-single", "node-http-noop"),
  ratio(m, "batch ÷ raw multi-row INSERT (d/e)", "webhook-batch", "pg-multi-row-insert"),
  ratio(m, "webhook ÷ raw single-row INSERT (c/f)", "webhook-single", "pg-single-row-insert"),
  ratio(m, "Next.js no-op ÷ node:http (b/a)", "next-noop", "node-http-noop"),
  cpuRatio(m, "c/b by server CPU per request", "webhook-single", "next-noop", ["server"]),
  cpuRatio(m, "c/a by server CPU per request", "webhook-single", "node-http-noop", ["server"]),
  cpuRatio(m, "d/e by machine CPU per event (server + postgres + bench)", "webhook-batch", "pg-multi-row-insert", ["server", "postgres", "bench"]),
];

/** One ingest run: the shared bookkeeping, the bench's context, and the high-concurrency figure. */
interface Ingest {
  run: ModeRun;
  ctx: BenchContext;
  connections: number;
}

async function storedEventIds(tenantId: number): Promise<string[]> {
  const { rows } = await pool.query<{ event_id: string }>("SELECT event_id FROM events WHERE tenant_id = $1", [tenantId]);
  return rows.map((row) => row.event_id);
}

async function storedCount(tenantId: number): Promise<number> {
  const { rows } = await pool.query<{ count: string }>("SELECT count(*) AS count FROM events WHERE tenant_id = $1", [tenantId]);
  return Number(rows[0]?.count ?? 0);
}

/**
 * Rows in the webhook's shape, cycling through ROW_TEMPLATES contents, each
 * with a fresh event id, in a prepared statement: a floor is the best the
 * database does, and re-parsing and re-planning a 4,000-parameter INSERT for
 * every statement cost ~40% of the multi-row rate when measured.
 */
function rowInserts(tenant: BenchTenant, prefix: string, rowsPerStatement: number): (seq: number) => Statement {
  const templates = Array.from({ length: ROW_TEMPLATES }, (_, i) => eventRow(tenant.id, "", syntheticEvent(i)).slice(2));
  const text = multiRowInsert(rowsPerStatement);
  const name = `tidemark_bench_insert_${rowsPerStatement}`;
  return (seq) => {
    const values: unknown[] = [];
    for (let r = 0; r < rowsPerStatement; r++) {
      const row = seq * rowsPerStatement + r;
      values.push(tenant.id, `${prefix}-${row}`, ...(templates[row % ROW_TEMPLATES] as unknown[]));
    }
    return { name, text, values };
  };
}

/** The app's process and the PostgreSQL backends serving it (its pool is open by the end of the warm-up). */
function appMeter(ctx: BenchContext, app: AppServer): CpuMeter {
  return new CpuMeter([
    { label: "server", pids: async () => [app.pid] },
    { label: "postgres", pids: () => ctx.databaseBackends() },
  ]);
}

function databaseMeter(ctx: BenchContext): CpuMeter {
  return new CpuMeter([{ label: "postgres", pids: () => ctx.databaseBackends() }]);
}

function signedLiveNote(source: SignedRequestSource): string[] {
  return source.signedLive > 0
    ? [`${n(source.signedLive)} requests were signed during the run (the pre-signed pool ran dry or went stale): the bench's CPU was charged for them`]
    : [];
}

/** Resident set size of `pid` in MB, or null where /proc is not there. */
function rssMegabytes(pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Samples the app's RSS every second while a run goes; stop() gives the samples (MB). */
function sampleRss(pid: number): { stop(): number[] } {
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

function rssNote(samples: number[]): string[] {
  if (samples.length === 0) return [];
  const mb = (value: number) => `${value.toFixed(0)} MB`;
  const tenth = Math.max(1, Math.floor(samples.length / 10));
  const average = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  return [
    `app RSS over the run (warm-up included, every ${RSS_SAMPLE_MS / 1000} s): start ${mb(samples[0] as number)}, max ${mb(Math.max(...samples))}, ` +
      `end ${mb(samples[samples.length - 1] as number)}; mean of the first tenth ${mb(average(samples.slice(0, tenth)))}, of the last ${mb(average(samples.slice(-tenth)))}`,
  ];
}

/** a) and b). The app is started first, so that a build that fails does so before anything is measured; it idles during a). */
async function floors({ run, ctx, connections }: Ingest, floorRequest: FixedRequest): Promise<{ app: AppServer; noopRate: number; httpFloorRate: number }> {
  const app = await ctx.startApp();
  const env = parseEnv(ctx.appEnv);
  run.context.push(
    `app: npm start's server (webhook fast path + Next.js, production build) pid ${app.pid}, WORKER_CONCURRENCY=${env.WORKER_CONCURRENCY}, DATABASE_POOL_SIZE=${env.DATABASE_POOL_SIZE}, ` +
      `health ${JSON.stringify(app.health)}`,
  );
  if (app.health.store !== "up") {
    run.context.push(`WARNING: the shared store is ${String(app.health.store)}: the rate limiter fails open, so c) and d) do not measure the production path`);
  }

  const floor = await ctx.startHttpFloor();
  const a = await run.http("a) node:http no-op", {
    url: `${floor.url}/`,
    connections,
    request: floorRequest,
    meter: new CpuMeter([{ label: "server", pids: async () => [floor.pid] }]),
  });
  await floor.stop();
  run.measureHttp("node-http-noop", "a) raw node:http no-op (HTTP floor)", "req/s", a, connections);
  run.expectOnly("a) node:http no-op", a, 200);

  const b = await run.http("b) Next.js /api/noop", { url: `${app.url}/api/noop`, connections, request: floorRequest, meter: appMeter(ctx, app) });
  run.measureHttp("next-noop", "b) Next.js POST /api/noop (framework floor)", "req/s", b, connections);
  run.expectOnly("b) Next.js /api/noop", b, 200);
  return { app, noopRate: b.rate, httpFloorRate: a.rate };
}

/** c), then the stored rows compared with the 202s, id by id. */
async function singleWebhook({ run, ctx, connections }: Ingest, app: AppServer, expectedRate: number): Promise<void> {
  const tenant = await ctx.createTenant("bench-webhook");
  const source = new SignedRequestSource(tenant.secret, (seq) => singleEventPayload("wh", seq));
  const { durationSeconds, warmupSeconds } = ctx.options;
  const wanted = Math.min(MAX_PRESIGNED_SINGLE, Math.ceil(expectedRate * (durationSeconds + warmupSeconds) * PRESIGN_HEADROOM) + 4 * connections);
  ctx.announce(`c) webhook: signing ${n(wanted)} requests ahead of the run`);
  source.precompute(wanted);
  const rss = sampleRss(app.pid);

  const accepted: string[] = [];
  const c = await run.http("c) webhook", {
    url: `${app.url}/api/webhooks/${tenant.slug}`,
    connections,
    request: () => source.next(),
    meter: appMeter(ctx, app),
    onResponse: (status, _body, id) => {
      if (status === 202) accepted.push(id);
    },
  });
  const rssSamples = rss.stop();
  run.measureHttp("webhook-single", "c) signed webhook, 1 event per request", "events/s", c, connections, 1, [
    ...signedLiveNote(source),
    ...rssNote(rssSamples),
  ]);
  run.expectOnly("c) webhook", c, 202);

  const stored = await storedEventIds(tenant.id);
  const storedSet = new Set(stored);
  const acceptedSet = new Set(accepted);
  const missing = accepted.filter((id) => !storedSet.has(id)).length;
  const extra = stored.filter((id) => !acceptedSet.has(id)).length;
  run.check(
    "c) webhook rows = 202 answers",
    stored.length === accepted.length && missing === 0 && extra === 0,
    `${n(stored.length)} events stored for tenant ${tenant.slug}, ${n(accepted.length)} answers 202 (priming and warm-up included)` +
      (missing + extra > 0 ? `; ${n(missing)} answered 202 but not stored, ${n(extra)} stored without a 202` : "; the same ids"),
  );
}

/** f) then e); returns e's rate, which sizes d's pre-signed requests. */
async function rawInserts({ run, ctx, connections }: Ingest): Promise<number> {
  const single = await ctx.createTenant("bench-sql-single");
  const f = await run.sql("f) single-row INSERT", { connections, statement: rowInserts(single, "raw1", 1), rowsPerStatement: 1, meter: databaseMeter(ctx) });
  run.measureSql("pg-single-row-insert", "f) raw pg single-row INSERT (prepared), autocommit", f, connections, 1);
  const singleRows = await storedCount(single.id);
  run.check("f) rows", singleRows === f.totalStatements, `${n(singleRows)} rows stored, ${n(f.totalStatements)} statements completed`);

  const multi = await ctx.createTenant("bench-sql-multi");
  const e = await run.sql("e) multi-row INSERT", {
    connections: BATCH_CONNECTIONS,
    statement: rowInserts(multi, "rawN", BATCH_SIZE),
    rowsPerStatement: BATCH_SIZE,
    meter: databaseMeter(ctx),
  });
  run.measureSql("pg-multi-row-insert", `e) raw pg multi-row INSERT (prepared), ${BATCH_SIZE} rows`, e, BATCH_CONNECTIONS, BATCH_SIZE);
  const multiRows = await storedCount(multi.id);
  run.check(
    "e) rows",
    multiRows === e.totalStatements * BATCH_SIZE,
    `${n(multiRows)} rows stored, ${n(e.totalStatements)} statements × ${BATCH_SIZE} completed`,
  );
  return e.rate;
}

/** d), then every event's outcome and the stored rows. */
async function batchWebhook({ run, ctx }: Ingest, app: AppServer, rawRowsPerSecond: number): Promise<void> {
  const tenant = await ctx.createTenant("bench-batch");
  const source = new SignedRequestSource(tenant.secret, (seq) => batchPayload("bt", seq, BATCH_SIZE));
  const { durationSeconds, warmupSeconds } = ctx.options;
  const wanted = Math.ceil((rawRowsPerSecond * (durationSeconds + warmupSeconds) * PRESIGN_HEADROOM) / BATCH_SIZE) + 4 * BATCH_CONNECTIONS;
  ctx.announce(`d) batch webhook: signing ${n(wanted)} requests of ${BATCH_SIZE} events ahead of the run`);
  source.precompute(wanted, MAX_PRESIGNED_BATCH_BYTES);

  const outcomes: Record<string, number> = {};
  let unreadable = 0;
  const d = await run.http("d) batch webhook", {
    url: `${app.url}/api/webhooks/${tenant.slug}/batch`,
    connections: BATCH_CONNECTIONS,
    request: () => source.next(),
    meter: appMeter(ctx, app),
    onResponse: (status, body) => {
      if (status !== 202 && status !== 200) return;
      try {
        for (const result of (JSON.parse(body) as { results: { status: string }[] }).results) {
          outcomes[result.status] = (outcomes[result.status] ?? 0) + 1;
        }
      } catch {
        unreadable++; // reported by the check below
      }
    },
  });
  run.measureHttp("webhook-batch", `d) batch webhook, ${BATCH_SIZE} events per request`, "events/s", d, BATCH_CONNECTIONS, BATCH_SIZE, signedLiveNote(source));
  run.expectOnly("d) batch webhook", d, 202);

  const accepted = outcomes.accepted ?? 0;
  const others = Object.entries(outcomes).filter(([status]) => status !== "accepted");
  const clean = others.length === 0 && unreadable === 0;
  run.check(
    "d) batch results",
    clean,
    clean
      ? `all ${n(accepted)} events accepted`
      : `expected every event accepted, got ${others.map(([status, count]) => `${n(count)} ${status}`).join(", ")}` +
          (unreadable > 0 ? `, ${n(unreadable)} unreadable bodies` : ""),
  );
  const stored = await storedCount(tenant.id);
  run.check(
    "d) batch rows = accepted events",
    stored === accepted,
    `${n(stored)} events stored for tenant ${tenant.slug}, ${n(accepted)} accepted (priming and warm-up included)`,
  );
}

export const ingest: BenchMode = {
  name: "ingest",
  async run(ctx) {
    const it: Ingest = {
      run: new ModeRun(ctx, { mode: "ingest", title: "ingest: webhook throughput against its floors", ratios }),
      ctx,
      connections: ctx.options.connections ?? DEFAULT_CONNECTIONS,
    };
    const { machine, options, database } = ctx;
    it.run.context.push(
      `NOTE: the load generator (autocannon, in the bench process) shares these ${machine.cpus} cores with the app, PostgreSQL and Redis: ` +
        "every figure is a lower bound, and noisy on a busy machine",
      `runs: ${options.warmupSeconds} s warm-up + ${options.durationSeconds} s measured each; ${it.connections} keep-alive connections for a, b, c, f; ` +
        `${BATCH_CONNECTIONS} for d, e`,
      `database: ${database.name} (fresh, dropped at the end); every webhook request carries a fresh event id, Standard Webhooks-signed before the run`,
    );

    // The floors get the webhook's bytes: a signed event of the same size (nobody checks the signature there).
    const sample = signRequest(generateSecret(), singleEventPayload("floor", 0));
    const floorRequest: FixedRequest = { method: "POST", headers: sample.headers, body: sample.body };

    const { app, noopRate, httpFloorRate } = await floors(it, floorRequest);
    await singleWebhook(it, app, Math.max(noopRate, httpFloorRate * SINGLE_SHARE_OF_HTTP_FLOOR));
    const rawRowsPerSecond = await rawInserts(it);
    await batchWebhook(it, app, rawRowsPerSecond);
    return it.run.report();
  },
};
