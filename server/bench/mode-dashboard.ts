/**
 * `npm run bench -- dashboard`: how fast the tenant page's data comes back
 * for a tenant with millions of events and 30 days of history.
 *
 * The tenant's rollups are written as 30 days of steady traffic would leave
 * them (every minute and hour bucket filled, ~10 latency bins a minute, a
 * backlog sample a minute), and its inbox holds 1,000,000 processed events,
 * so that anything that scanned events instead of rollups would show. Then
 * stats.series is timed for each range the page offers, in-process (the
 * queries alone) and over HTTP through tRPC with a signed-in session (what
 * the browser waits for), sequentially, 20 times each after one untimed call.
 */
import { createSession } from "../auth/session.ts";
import { createUser } from "../auth/users.ts";
import { pool } from "../db.ts";
import { getSeries } from "../stats/series.ts";
import type { BenchMode } from "./harness.ts";
import { ModeRun } from "./mode-run.ts";
import { formatCount as n, type Measurement } from "./report.ts";
import { LatencyRecorder } from "./percentiles.ts";

const DAYS = 30;
const EVENTS = 1_000_000;
const RUNS = 20;
const RANGES = [
  { name: "1h", ms: 3_600_000 },
  { name: "24h", ms: 86_400_000 },
  { name: "7d", ms: 7 * 86_400_000 },
  { name: "30d", ms: 30 * 86_400_000 },
] as const;

async function seed(tenantId: number): Promise<void> {
  const from = new Date(Date.now() - DAYS * 86_400_000);
  await pool.query(
    `INSERT INTO rollup_counts (tenant_id, resolution, bucket, received_created, received_updated, received_deleted,
                                applied, stale, duplicate, rejected, dead, latency_count, latency_sum_ms, rate_limited, redelivered)
     SELECT $1, r.width, b, 10 * m, 50 * m, 5 * m, 55 * m, 8 * m, 2 * m, 0, 0, 65 * m, 65 * 40 * m, m, m
       FROM (VALUES (60, 1), (3600, 60)) AS r(width, m),
            generate_series(date_trunc('hour', $2::timestamptz), now(), make_interval(secs => r.width)) AS b`,
    [tenantId, from],
  );
  await pool.query(
    `INSERT INTO rollup_latency (tenant_id, resolution, bucket, bin, count)
     SELECT $1, r.width, b, 150 + bin, (6 + bin) * r.width / 60
       FROM (VALUES (60, 10), (3600, 10)) AS r(width, bins),
            generate_series(date_trunc('hour', $2::timestamptz), now(), make_interval(secs => r.width)) AS b,
            generate_series(1, r.bins) AS bin`,
    [tenantId, from],
  );
  await pool.query(
    `INSERT INTO backlog_samples (tenant_id, minute, pending, processing, dead, oldest_pending_age_ms)
     SELECT $1, b, 20, 2, 0, 150 FROM generate_series(date_trunc('minute', $2::timestamptz), now(), interval '1 minute') AS b`,
    [tenantId, from],
  );
  await pool.query(
    `INSERT INTO events (tenant_id, event_id, type, item_id, version, payload, payload_hash, source_timestamp,
                         received_at, status, outcome, processed_at, attempts)
     SELECT $1, 'dash-' || g, 'item.updated', 'item-' || (g % 50000), g,
            '{"type":"item.updated","timestamp":"2026-11-27T10:00:00Z","data":{"id":"x","version":1}}', '\\x00', now(),
            $2::timestamptz + (g * interval '2 seconds'), 'done', 'applied', $2::timestamptz + (g * interval '2 seconds') + interval '40 ms', 1
       FROM generate_series(1, $3) AS g`,
    [tenantId, from, EVENTS],
  );
  await pool.query("ANALYZE events, rollup_counts, rollup_latency, backlog_samples");
}

function timed(id: string, label: string, recorder: LatencyRecorder, seconds: number): Measurement {
  return { id, label, unit: "req/s", rate: RUNS / seconds, count: RUNS, seconds, connections: 1, latency: recorder.summary(), notes: [] };
}

export const dashboard: BenchMode = {
  name: "dashboard",
  async run(ctx) {
    const run = new ModeRun(ctx, { mode: "dashboard", title: "dashboard: a tenant page over 30 days of history", ratios: () => [] });
    const tenant = await ctx.createTenant("bench-dashboard");
    ctx.announce(`writing ${DAYS} days of rollups and ${n(EVENTS)} processed events`);
    await seed(tenant.id);
    const [{ rows = 0, minutes = 0 } = {}] = (
      await pool.query<{ rows: number; minutes: number }>(
        "SELECT (SELECT count(*) FROM rollup_latency WHERE tenant_id = $1)::int AS rows, (SELECT count(*) FROM rollup_counts WHERE tenant_id = $1 AND resolution = 60)::int AS minutes",
        [tenant.id],
      )
    ).rows;
    run.context.push(
      `tenant: ${n(EVENTS)} processed events in the inbox; ${n(minutes)} minute buckets and ${n(rows)} latency-sketch rows in the rollups`,
      `each figure: ${RUNS} sequential calls of stats.series for the range, 1 connection; rate = calls per second`,
    );

    for (const range of RANGES) {
      const recorder = new LatencyRecorder();
      await getSeries(tenant.id, { from: new Date(Date.now() - range.ms), to: new Date() });
      const started = performance.now();
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        const series = await getSeries(tenant.id, { from: new Date(Date.now() - range.ms), to: new Date() });
        recorder.record(performance.now() - t0);
        if (i === 0)
          run.check(
            `${range.name}: the series covers the range`,
            series.totals.applied > 0,
            `${series.points.length} ${series.bucket} points, ${n(series.totals.applied)} applied`,
          );
      }
      run.measurements.push(
        timed(`series-${range.name}`, `stats.series ${range.name}, in-process (queries only)`, recorder, (performance.now() - started) / 1000),
      );
    }

    const app = await ctx.startApp();
    const user = await createUser({ email: `bench-${tenant.slug}@bench.test`, role: "admin", password: "bench-password-123" });
    const { token } = await createSession(user.id);
    for (const range of RANGES) {
      const recorder = new LatencyRecorder();
      const url = () => {
        const input = {
          json: { tenant: tenant.slug, from: new Date(Date.now() - range.ms).toISOString(), to: new Date().toISOString() },
          meta: { values: { from: ["Date"], to: ["Date"] } },
        };
        return `${app.url}/api/trpc/stats.series?input=${encodeURIComponent(JSON.stringify(input))}`;
      };
      const headers = { cookie: `tidemark_session=${token}` };
      // One untimed call first: the route's first request in a fresh server compiles and warms it.
      await (await fetch(url(), { headers })).arrayBuffer();
      const started = performance.now();
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        const response = await fetch(url(), { headers });
        await response.arrayBuffer();
        recorder.record(performance.now() - t0);
        if (response.status !== 200) run.check(`${range.name} over HTTP answers 200`, false, `got ${response.status}`);
      }
      run.measurements.push(
        timed(`series-http-${range.name}`, `stats.series ${range.name}, over HTTP (tRPC, signed in)`, recorder, (performance.now() - started) / 1000),
      );
    }
    const slowest = Math.max(...run.measurements.map((m) => m.latency?.p99 ?? 0));
    run.check("every range answers in well under a second (p99 < 500 ms)", slowest < 500, `slowest p99 ${slowest.toFixed(0)} ms`);
    return run.report();
  },
};
