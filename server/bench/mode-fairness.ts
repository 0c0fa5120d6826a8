/**
 * `npm run bench -- fairness`: what a whale does to small tenants, in one run:
 *
 *   i) 20 small tenants, each sending 10 events/s, with nobody else: their
 *      latency (received → applied, the database's own timestamps);
 *   j) the same 20 small tenants and the same traffic while a whale's
 *      backlog of 200,000 events keeps the workers saturated;
 *   k) the whale's own throughput during j;
 *   l) one claim (rolled back, so each sees the same inbox) with the whale's
 *      backlog and 10,000 idle tenants in the ring: what every worker pays
 *      per batch, and what claims wait for while they take turns.
 *
 * Figures: small-tenant p99 latency with the whale ÷ without it (goal
 * ≤ 1.5), and Jain's fairness index over the small tenants' mean latencies
 * (1 is perfectly even; goal ≥ 0.95). The workers (2 loops) run in the bench
 * process with the default quantum and batch size.
 */
import { randomBytes } from "node:crypto";
import { pool, sql } from "../db.ts";
import { env } from "../env.ts";
import { Worker } from "../worker/worker.ts";
import { CLAIM } from "../worker/inbox.ts";
import { MAX_TENANTS_PER_CLAIM } from "../worker/scheduler.ts";
import { signalNewEvents } from "../lib/wake.ts";
import { storeEvents } from "../ingest/store-events.ts";
import { canonicalJson, sha256 } from "../lib/canonical-json.ts";
import type { TEventBody } from "../core/event.ts";
import type { BenchContext, BenchMode, BenchTenant } from "./harness.ts";
import { ModeRun } from "./mode-run.ts";
import { formatCount as n, type Measurement, type Ratio } from "./report.ts";
import { summarizeSorted } from "./percentiles.ts";

const SMALL_TENANTS = 20;
const EVENTS_PER_SECOND_EACH = 10;
const TICK_MS = 1_000 / EVENTS_PER_SECOND_EACH;
const WHALE_BACKLOG = 200_000;
const LOOPS = 2;
const IDLE_TENANTS = 10_000;
const CLAIMS_TIMED = 200;

/** Jain's fairness index of non-negative values: 1 when all are equal, 1/n when one has everything. */
export function jainIndex(values: readonly number[]): number | null {
  const sum = values.reduce((total, value) => total + value, 0);
  const squares = values.reduce((total, value) => total + value * value, 0);
  return values.length === 0 || squares === 0 ? null : (sum * sum) / (values.length * squares);
}

function smallEvent(id: string, item: number): { eventId: string; body: TEventBody; payloadHash: Buffer } {
  const body = { type: "item.updated", timestamp: new Date().toISOString(), data: { id: `item-${item % 50}`, version: item + 1, name: id } } as TEventBody;
  return { eventId: id, body, payloadHash: sha256(canonicalJson(body)) };
}

/** Every TICK_MS, one event per small tenant, for `seconds`. Returns how many were sent. */
async function sendSteadyTraffic(tenants: BenchTenant[], phase: string, seconds: number): Promise<number> {
  const started = performance.now();
  let tick = 0;
  while (performance.now() - started < seconds * 1000) {
    await Promise.all(tenants.map((tenant) => storeEvents(tenant.id, [smallEvent(`${phase}-${tick}`, tick)])));
    signalNewEvents();
    tick++;
    const next = started + tick * TICK_MS;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
  }
  return tick * tenants.length;
}

async function waitUntilDone(tenantIds: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await sql<{ n: number }>(pool, "SELECT count(*)::int AS n FROM events WHERE tenant_id = ANY($1) AND status <> 'done'", [tenantIds]);
    if (row?.n === 0) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface PhaseLatency {
  all: Float64Array;
  meanByTenant: number[];
  applied: number;
}

async function latencies(tenantIds: number[], phase: string): Promise<PhaseLatency> {
  const rows = await sql<{ tenant_id: number; ms: number }>(
    pool,
    `SELECT tenant_id, extract(epoch FROM processed_at - received_at)::float8 * 1000 AS ms
       FROM events WHERE tenant_id = ANY($1) AND event_id LIKE $2 AND status = 'done'`,
    [tenantIds, `${phase}-%`],
  );
  const all = Float64Array.from(rows.map((row) => row.ms)).sort();
  const meanByTenant = tenantIds.map((id) => {
    const mine = rows.filter((row) => row.tenant_id === id);
    return mine.reduce((sum, row) => sum + row.ms, 0) / Math.max(1, mine.length);
  });
  return { all, meanByTenant, applied: rows.length };
}

function measurement(id: string, label: string, phase: PhaseLatency, seconds: number): Measurement {
  return {
    id,
    label,
    unit: "events/s",
    rate: phase.applied / seconds,
    count: phase.applied,
    seconds,
    connections: LOOPS,
    latency: summarizeSorted(phase.all),
    notes: [],
  };
}

async function loadWhale(whale: BenchTenant): Promise<void> {
  await pool.query(
    `INSERT INTO events (tenant_id, event_id, type, item_id, version, payload, payload_hash, source_timestamp)
     SELECT $1, 'whale-' || g, 'item.updated', 'w-' || (g % 20000), g,
            jsonb_build_object('type', 'item.updated', 'timestamp', '2026-11-27T10:00:00Z',
                               'data', jsonb_build_object('id', 'w-' || (g % 20000), 'version', g, 'name', 'whale ' || g)),
            sha256(('whale-' || g)::bytea), now()
       FROM generate_series(1, $2) AS g`,
    [whale.id, WHALE_BACKLOG],
  );
}

/** Times CLAIMS_TIMED claims on one connection, each rolled back. Returns sorted milliseconds and rows claimed. */
async function timeClaims(): Promise<{ ms: Float64Array; claimed: number[] }> {
  const client = await pool.connect();
  const ms = new Float64Array(CLAIMS_TIMED);
  const claimed: number[] = [];
  try {
    for (let i = 0; i < CLAIMS_TIMED; i++) {
      const started = performance.now();
      await client.query("BEGIN");
      const rows = await sql(client, CLAIM, [env.WORKER_QUANTUM, env.WORKER_MAX_BATCH, env.WORKER_LEASE_MS, `bench-claim-${i}`, MAX_TENANTS_PER_CLAIM]);
      ms[i] = performance.now() - started;
      await client.query("ROLLBACK");
      claimed.push(rows.length);
    }
  } finally {
    client.release();
  }
  return { ms: ms.sort(), claimed };
}

export const fairness: BenchMode = {
  name: "fairness",
  async run(ctx: BenchContext) {
    const seconds = Math.max(5, ctx.options.durationSeconds);
    const ratios = (m: readonly Measurement[]): Ratio[] => {
      const alone = m.find((x) => x.id === "small-alone")?.latency?.p99;
      const beside = m.find((x) => x.id === "small-with-whale")?.latency?.p99;
      return [
        {
          label: "small-tenant p99 with the whale ÷ without (goal ≤ 1.5)",
          kind: "rate",
          numerator: "small-with-whale",
          denominator: "small-alone",
          value: alone && beside ? beside / alone : null,
        },
        {
          label: "Jain's index of small tenants' mean latency, alone (goal ≥ 0.95)",
          kind: "rate",
          numerator: "small-alone",
          denominator: "small-alone",
          value: jain.alone,
        },
        {
          label: "Jain's index of small tenants' mean latency, with the whale (goal ≥ 0.95)",
          kind: "rate",
          numerator: "small-with-whale",
          denominator: "small-with-whale",
          value: jain.withWhale,
        },
      ];
    };
    const jain: { alone: number | null; withWhale: number | null } = { alone: null, withWhale: null };
    const run = new ModeRun(ctx, { mode: "fairness", title: "fairness: small tenants beside a whale", ratios });
    run.context.push(
      `${SMALL_TENANTS} small tenants × ${EVENTS_PER_SECOND_EACH} events/s for ${seconds} s per phase; whale backlog ${n(WHALE_BACKLOG)} events`,
      `${LOOPS} worker loops in the bench process, quantum ${env.WORKER_QUANTUM}, max batch ${env.WORKER_MAX_BATCH}; latency = processed_at − received_at`,
    );

    // Earlier modes leave pending events behind; the workers here must see only this mode's.
    await pool.query("DELETE FROM events WHERE status <> 'done'");
    // And they leave work for autovacuum (the dashboard mode loads a million events), which would
    // otherwise run during phase i and inflate the baseline every ratio here is measured against.
    ctx.announce("vacuuming what earlier modes left");
    await pool.query("VACUUM ANALYZE");
    const tag = randomBytes(3).toString("hex");
    const small: BenchTenant[] = [];
    for (let i = 0; i < SMALL_TENANTS; i++) small.push(await ctx.createTenant(`bench-small-${tag}`));
    const smallIds = small.map((tenant) => tenant.id);

    const worker = new Worker({
      concurrency: LOOPS,
      quantum: env.WORKER_QUANTUM,
      maxBatch: env.WORKER_MAX_BATCH,
      leaseMs: env.WORKER_LEASE_MS,
      maxAttempts: env.WORKER_MAX_ATTEMPTS,
      pollMs: env.WORKER_POLL_MS,
    });
    await worker.start();
    ctx.onModeEnd("stop the fairness workers", () => worker.stop(5_000));

    await sendSteadyTraffic(small, "warm", 1);
    ctx.announce(`i) small tenants alone: ${seconds} s`);
    const sentAlone = await sendSteadyTraffic(small, "alone", seconds);
    run.check("i) every small event applied", await waitUntilDone(smallIds, 30_000), `${n(sentAlone)} sent`);
    const alone = await latencies(smallIds, "alone");
    jain.alone = jainIndex(alone.meanByTenant);
    run.measurements.push(measurement("small-alone", "i) small tenants alone", alone, seconds));

    const whale = await ctx.createTenant(`bench-whale-${tag}`);
    ctx.announce(`j) loading a whale backlog of ${n(WHALE_BACKLOG)} events`);
    await loadWhale(whale);
    // A real backlog builds up over time, with autovacuum keeping pace; loaded at once, it would
    // set off a vacuum of the whole inbox in the middle of the measurement instead.
    await pool.query("VACUUM ANALYZE events");
    signalNewEvents();
    const [{ n: whaleDoneBefore = 0 } = { n: 0 }] = await sql<{ n: number }>(
      pool,
      "SELECT count(*)::int AS n FROM events WHERE tenant_id = $1 AND status = 'done'",
      [whale.id],
    );
    ctx.announce(`j) small tenants beside the whale: ${seconds} s`);
    const started = performance.now();
    const sentBeside = await sendSteadyTraffic(small, "beside", seconds);
    const window = (performance.now() - started) / 1000;
    const [{ n: whaleDone = 0 } = { n: 0 }] = await sql<{ n: number }>(pool, "SELECT count(*)::int AS n FROM events WHERE tenant_id = $1 AND status = 'done'", [
      whale.id,
    ]);
    run.check("j) every small event applied", await waitUntilDone(smallIds, 30_000), `${n(sentBeside)} sent`);
    run.check(
      "j) the whale stayed backlogged throughout",
      whaleDone < WHALE_BACKLOG,
      `${n(whaleDone)} of ${n(WHALE_BACKLOG)} whale events applied by the end of the window`,
    );
    await worker.stop(5_000);

    const beside = await latencies(smallIds, "beside");
    jain.withWhale = jainIndex(beside.meanByTenant);
    run.measurements.push(measurement("small-with-whale", `j) small tenants beside a ${n(WHALE_BACKLOG)}-event whale`, beside, seconds));
    run.measurements.push({
      id: "whale",
      label: "k) the whale, during j",
      unit: "events/s",
      rate: (whaleDone - whaleDoneBefore) / window,
      count: whaleDone - whaleDoneBefore,
      seconds: window,
      connections: LOOPS,
      latency: null,
      notes: [],
    });

    ctx.announce(`l) ${n(CLAIMS_TIMED)} claims beside the whale's backlog and ${n(IDLE_TENANTS)} idle tenants`);
    await pool.query(
      `WITH idle AS (
         INSERT INTO tenants (slug, name, secret, updated_at)
         SELECT $1 || g, 'idle', 'whsec_bench', now() FROM generate_series(1, $2) AS g
         RETURNING id)
       INSERT INTO scheduler_state (tenant_id) SELECT id FROM idle`,
      [`bench-idle-${tag}-`, IDLE_TENANTS],
    );
    await pool.query("ANALYZE tenants, scheduler_state");
    // A small tenant counts as served just now throughout, so that each claim is the whale's visit beside active
    // tenants (one quantum), as in j), rather than the whole batch a tenant by itself takes (ALONE_MS).
    await pool.query("UPDATE scheduler_state SET served_at = now() + interval '1 hour' WHERE tenant_id = $1", [small[0]?.id]);
    const claims = await timeClaims();
    await pool.query("UPDATE scheduler_state SET served_at = now() WHERE tenant_id = $1", [small[0]?.id]);
    const quantum = Math.min(env.WORKER_QUANTUM, env.WORKER_MAX_BATCH); // the whale has weight 1
    run.check(
      "l) every claim took the whale's quantum",
      claims.claimed.every((count) => count === quantum),
      `${n(quantum)} events per claim`,
    );
    const claimSeconds = claims.ms.reduce((sum, ms) => sum + ms, 0) / 1000;
    run.measurements.push({
      id: "claim",
      label: `l) one claim, whale + ${n(IDLE_TENANTS)} idle tenants`,
      unit: "claims/s",
      rate: CLAIMS_TIMED / claimSeconds,
      count: CLAIMS_TIMED,
      seconds: claimSeconds,
      connections: 1,
      latency: summarizeSorted(claims.ms),
      notes: [],
    });
    return run.report();
  },
};
