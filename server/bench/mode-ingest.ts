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
 *   g) single events at a fixed rate  — half of c's rate, open model (server/bench/open-load.ts),
 *                                        for --open-seconds (60 by default), against a fresh app with
 *                                        its workers on: the HTTP answer's latency from each request's
 *                                        scheduled send time, received → applied (the database's own
 *                                        timestamps) and scheduled send → applied; the app's RSS every
 *                                        second over the run (goals: applied p99 ≤ 250 ms, RSS ≤ 400 MB
 *                                        and flat)
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
import { pool } from "../db.ts";
import { parseEnv } from "../env-schema.ts";
import { generateSecret } from "../ingest/signature.ts";
import type { AppServer } from "./app-server.ts";
import { waitUntilDrained } from "./drain.ts";
import { CpuMeter } from "./cpu.ts";
import { SignedRequestSource, batchPayload, eventRow, multiRowInsert, signRequest, singleEventPayload, syntheticEvent } from "./signed-events.ts";
import type { BenchContext, BenchMode, BenchTenant } from "./harness.ts";
import type { FixedRequest } from "./http-load.ts";
import { ModeRun } from "./mode-run.ts";
import { runOpenLoad } from "./open-load.ts";
import { rssGauges, rssNote, rssSeries, sampleRss } from "./rss.ts";
import { summarizeSorted } from "./percentiles.ts";
import { cpuFigures, cpuRatio, formatCount as n, ratio, type Measurement } from "./report.ts";
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
const MAX_PRESIGNED_BATCH_BYTES = 256 * 1024 * 1024;
/** g) runs at this share of c)'s rate: the issue's "50% of the measured maximum single-event rate". */
const OPEN_SHARE_OF_MAX = 0.5;
/** g)'s connection cap: far more than it needs at half the maximum rate, so the queue in front of them is the server's. */
const OPEN_MAX_SOCKETS = 256;
/** How long g) waits after its last answer for the workers to apply every accepted event. */
const APPLY_WAIT_MS = 120_000;

const ratios = (m: readonly Measurement[]) => [
  ratio(m, "webhook ÷ Next.js no-op (c/b)", "webhook-single", "next-noop"),
  ratio(m, "webhook ÷ node:http (c/a)", "webhook-single", "node-http-noop"),
  ratio(m, "batch ÷ raw multi-row INSERT (d/e)", "webhook-batch", "pg-multi-row-insert"),
  ratio(m, "webhook ÷ raw single-row INSERT (c/f)", "webhook-single", "pg-single-row-insert"),
  ratio(m, "Next.js no-op ÷ node:http (b/a)", "next-noop", "node-http-noop"),
  ratio(m, "fixed-rate answers ÷ max single rate (g/c, aimed at 0.5)", "webhook-open-answer", "webhook-single"),
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
  const measured = run.measurements[run.measurements.length - 1] as Measurement;
  measured.gauges = rssGauges(rssSamples);
  measured.series = rssSeries(rssSamples);
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

/**
 * g): a fresh app with its workers on (the first app is stopped: it has no
 * workers, and its idle process should not share the cores), single events at
 * half of c)'s rate, open model. A warm-up at the same rate goes first (JIT,
 * pools, the workers' first claims) and is not reported.
 */
async function fixedRate({ run, ctx }: Ingest, firstApp: AppServer, maxRate: number): Promise<void> {
  await firstApp.stop();
  // c) and d) leave hundreds of thousands of events pending (their app runs no workers). g) measures how long its
  // own events take to be applied, not how long the workers take to drain those first, so they go; and the inbox is
  // vacuumed, as autovacuum would have done over the time such a backlog takes to arrive.
  ctx.announce("g) removing the earlier runs' pending events");
  await pool.query("DELETE FROM events WHERE status <> 'done'");
  await pool.query("VACUUM ANALYZE events");
  const workers = parseEnv({ ...ctx.appEnv, WORKER_CONCURRENCY: undefined }).WORKER_CONCURRENCY;
  const app = await ctx.startApp({ WORKER_CONCURRENCY: String(workers) });
  const rate = Math.max(1, maxRate * OPEN_SHARE_OF_MAX);
  const { warmupSeconds, openSeconds } = ctx.options;
  run.context.push(
    `g): a fresh app (pid ${app.pid}) with WORKER_CONCURRENCY=${workers}, ${n(rate)} events/s (${OPEN_SHARE_OF_MAX} × c) for ${openSeconds} s after ${warmupSeconds} s ` +
      `at the same rate; at most ${OPEN_MAX_SOCKETS} connections`,
  );
  const tenant = await ctx.createTenant("bench-open");
  const source = new SignedRequestSource(tenant.secret, (seq) => singleEventPayload("op", seq));
  const wanted = Math.ceil(rate * (openSeconds + warmupSeconds) * 1.05) + 10;
  ctx.announce(`g) fixed rate: signing ${n(wanted)} requests ahead of the run`);
  source.precompute(wanted);

  const accepted = new Set<string>();
  const dueAt = new Map<string, number>();
  const url = `${app.url}/api/webhooks/${tenant.slug}`;
  const onResponse = (status: number, _body: string, id: string) => void (status === 202 && accepted.add(id));
  const errorsOf = (statuses: Record<string, number>, errors: number) =>
    Object.entries(statuses)
      .filter(([status]) => status !== "202")
      .reduce((sum, [, count]) => sum + count, errors);

  let warmupProblems = 0;
  if (warmupSeconds > 0) {
    ctx.announce(`g) fixed rate: ${warmupSeconds} s warm-up at ${n(rate)} events/s`);
    const warm = await runOpenLoad({
      url,
      ratePerSecond: rate,
      durationSeconds: warmupSeconds,
      request: () => source.next(),
      maxSockets: OPEN_MAX_SOCKETS,
      onResponse,
    });
    warmupProblems = errorsOf(warm.statuses, warm.errors);
  }
  ctx.announce(`g) fixed rate: ${openSeconds} s at ${n(rate)} events/s`);
  const meter = appMeter(ctx, app);
  await meter.prepare();
  const rss = sampleRss(app.pid);
  meter.open();
  const g = await runOpenLoad({
    url,
    ratePerSecond: rate,
    durationSeconds: openSeconds,
    request: () => source.next(),
    maxSockets: OPEN_MAX_SOCKETS,
    onResponse,
    onScheduled: (id, due) => void dueAt.set(id, due),
  });
  const cpu = meter.close();
  const rssSamples = rss.stop();
  ctx.announce(`g) fixed rate: ${n(g.rate)} answers/s, p99 ${g.latency?.p99.toFixed(1) ?? "–"} ms from the scheduled send`);

  const problems = errorsOf(g.statuses, g.errors) + warmupProblems;
  run.check(
    "g) fixed-rate answers",
    problems === 0,
    problems === 0
      ? `all ${n(accepted.size)} answers 202 (warm-up included)`
      : `${n(problems)} answers other than 202 or lost: ${JSON.stringify(g.statuses)}, ${g.errors} errors`,
  );
  const applied = await waitUntilDrained([tenant.id], APPLY_WAIT_MS, 100);
  const { rows } = await pool.query<{ event_id: string; outcome: string | null; applied_ms: number; received_to_applied_ms: number }>(
    `SELECT event_id, outcome, extract(epoch FROM processed_at)::float8 * 1000 AS applied_ms,
            extract(epoch FROM processed_at - received_at)::float8 * 1000 AS received_to_applied_ms
       FROM events WHERE tenant_id = $1`,
    [tenant.id],
  );
  const stored = new Set(rows.map((row) => row.event_id));
  const missing = [...accepted].filter((id) => !stored.has(id)).length;
  run.check(
    "g) fixed-rate rows = 202 answers",
    rows.length === accepted.size && missing === 0,
    `${n(rows.length)} events stored, ${n(accepted.size)} answers 202` + (missing > 0 ? `; ${n(missing)} answered 202 but not stored` : "; the same ids"),
  );
  const notApplied = rows.filter((row) => row.outcome !== "applied").length;
  run.check(
    "g) every event applied",
    applied && notApplied === 0,
    applied && notApplied === 0
      ? `all ${n(rows.length)} applied`
      : `${n(notApplied)} of ${n(rows.length)} not applied${applied ? "" : ` within ${APPLY_WAIT_MS / 1000} s of the last answer`}`,
  );

  // Only the measured window's events (those whose due time was recorded); the warm-up's are not reported.
  const window = rows.filter((row) => dueAt.has(row.event_id));
  const receivedToApplied = Float64Array.from(window.map((row) => row.received_to_applied_ms)).sort();
  const sendToApplied = Float64Array.from(window.map((row) => row.applied_ms - (dueAt.get(row.event_id) as number))).sort();
  const endToEnd = summarizeSorted(sendToApplied);
  const rssG = rssGauges(rssSamples);
  run.measurements.push({
    id: "webhook-open-answer",
    label: `g) fixed rate, ${OPEN_SHARE_OF_MAX} × c: HTTP answer, from the scheduled send`,
    unit: "events/s",
    rate: g.rate,
    count: g.responses,
    seconds: g.seconds,
    connections: OPEN_MAX_SOCKETS,
    latency: g.latency,
    statuses: g.statuses,
    cpu: cpuFigures(cpu, g.responses, g.seconds),
    gauges: { targetRate: rate, maxSendLagMs: g.maxSendLagMs, ...rssG },
    series: rssSeries(rssSamples),
    notes: [...signedLiveNote(source), ...rssNote(rssSamples), `the bench sent its latest request ${g.maxSendLagMs.toFixed(1)} ms after it was due`],
  });
  run.measurements.push({
    id: "webhook-open-applied",
    label: "g) fixed rate: received → applied (database timestamps)",
    unit: "events/s",
    rate: window.length / g.seconds,
    count: window.length,
    seconds: g.seconds,
    connections: OPEN_MAX_SOCKETS,
    latency: summarizeSorted(receivedToApplied),
    gauges: endToEnd ? { sendToAppliedP50Ms: endToEnd.p50, sendToAppliedP95Ms: endToEnd.p95, sendToAppliedP99Ms: endToEnd.p99 } : {},
    notes: endToEnd
      ? [
          `scheduled send → applied: p50 ${endToEnd.p50.toFixed(1)} ms, p95 ${endToEnd.p95.toFixed(1)} ms, p99 ${endToEnd.p99.toFixed(1)} ms (goal for received → applied p99: ≤ 250 ms)`,
        ]
      : [],
  });
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
    const maxSingle = it.run.measurements.find((m) => m.id === "webhook-single")?.rate ?? 0;
    await fixedRate(it, app, maxSingle);
    return it.run.report();
  },
};
