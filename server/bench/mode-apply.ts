/**
 * `npm run bench -- apply`: how fast the workers turn stored events into item
 * state, beside a raw-SQL baseline doing the equivalent multi-row upsert, in
 * one run on one machine:
 *
 *   g) the workers (server/worker, 2 loops, the defaults of WORKER_QUANTUM and
 *      WORKER_MAX_BATCH) draining a backlog: fair claim with leases, the
 *      last-writer-wins apply in lock order, refs, outcomes, rollups;
 *   h) raw pg on 2 connections draining the same backlog: per transaction,
 *      claim 500 pending events (FOR UPDATE SKIP LOCKED) and mark them done,
 *      then one multi-row upsert of their items (newest version per item,
 *      sorted, ON CONFLICT … WHERE version <). No fairness, leases, refs,
 *      outcome classification or rollups: the floor under g.
 *
 * Both start from the same workload (same events, same arrival order) in
 * tenants of their own; g's final item state is checked against the model.
 */
import { pool, sql, transaction } from "../db.ts";
import { env } from "../env.ts";
import { Worker } from "../worker/worker.ts";
import { CpuMeter } from "./cpu.ts";
import { waitUntilDrained } from "./drain.ts";
import type { BenchContext, BenchMode } from "./harness.ts";
import { ModeRun } from "./mode-run.ts";
import { cpuFigures, cpuRatio, formatCount as n, ratio, type Measurement } from "./report.ts";
import { modelState } from "../core/model.ts";
import { storeWorkload, workload } from "./workload.ts";

const EVENTS = 100_000;
const ITEMS = 10_000;
const LOOPS = 2;
const RAW_BATCH = 500;
const DRAIN_TIMEOUT_MS = 10 * 60_000;

const ratios = (m: readonly Measurement[]) => [
  ratio(m, "workers ÷ raw upsert (g/h)", "apply-workers", "apply-raw-upsert"),
  cpuRatio(m, "g/h by CPU per event (bench process + postgres)", "apply-workers", "apply-raw-upsert", ["bench", "postgres"]),
];

function meter(ctx: BenchContext): CpuMeter {
  // The workers and the raw loop both run in the bench process, whose own CPU the meter always reads as "bench".
  return new CpuMeter([{ label: "postgres", pids: () => ctx.databaseBackends() }]);
}

async function drainWithWorkers(ctx: BenchContext, tenantIds: number[]): Promise<{ seconds: number; cpu: Record<string, number> | null }> {
  const worker = new Worker({
    concurrency: LOOPS,
    quantum: env.WORKER_QUANTUM,
    maxBatch: env.WORKER_MAX_BATCH,
    leaseMs: env.WORKER_LEASE_MS,
    maxAttempts: env.WORKER_MAX_ATTEMPTS,
    pollMs: 20,
  });
  const cpu = meter(ctx);
  await cpu.prepare();
  cpu.open();
  const started = performance.now();
  await worker.start();
  const drained = await waitUntilDrained(tenantIds, DRAIN_TIMEOUT_MS);
  const seconds = (performance.now() - started) / 1000;
  const used = cpu.close();
  await worker.stop();
  if (!drained) throw new Error(`the workers left events pending after ${DRAIN_TIMEOUT_MS / 1000} s`);
  return { seconds, cpu: used };
}

const RAW_CLAIM = `
UPDATE events SET status = 'done', outcome = 'applied', processed_at = clock_timestamp()
 WHERE id IN (SELECT id FROM events WHERE tenant_id = ANY($1) AND status = 'pending' ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
RETURNING tenant_id, item_id, version, type, payload`;

const RAW_UPSERT = `
INSERT INTO items (tenant_id, item_id, version, type_rank, event_id, content_hash, deleted, name, category, value)
SELECT r.tenant_id, r.item_id, r.version, r.type_rank, '', '\\x00', r.deleted, r.name, r.category, r.value
  FROM unnest($1::int[], $2::text[], $3::bigint[], $4::smallint[], $5::boolean[], $6::text[], $7::text[], $8::float8[])
       AS r(tenant_id, item_id, version, type_rank, deleted, name, category, value)
 ORDER BY r.tenant_id, r.item_id
    ON CONFLICT (tenant_id, item_id) DO UPDATE
   SET version = excluded.version, type_rank = excluded.type_rank, deleted = excluded.deleted,
       name = excluded.name, category = excluded.category, value = excluded.value
 WHERE items.version < excluded.version`;

interface ClaimedRow {
  tenant_id: number;
  item_id: string;
  version: number;
  type: string;
  payload: { data: { name?: string; category?: string; value?: number } };
}

async function drainRaw(ctx: BenchContext, tenantIds: number[]): Promise<{ seconds: number; cpu: Record<string, number> | null }> {
  const cpu = meter(ctx);
  await cpu.prepare();
  cpu.open();
  const started = performance.now();
  const loop = async () => {
    for (;;) {
      const claimed = await transaction(async (tx) => {
        const rows = await sql<ClaimedRow>(tx, RAW_CLAIM, [tenantIds, RAW_BATCH]);
        const newest = new Map<string, ClaimedRow>();
        for (const row of rows) {
          const key = `${row.tenant_id}:${row.item_id}`;
          const current = newest.get(key);
          if (!current || current.version < row.version) newest.set(key, row);
        }
        const items = [...newest.values()];
        if (items.length > 0) {
          await sql(tx, RAW_UPSERT, [
            items.map((row) => row.tenant_id),
            items.map((row) => row.item_id),
            items.map((row) => row.version),
            items.map((row) => (row.type === "item.deleted" ? 3 : row.type === "item.updated" ? 2 : 1)),
            items.map((row) => row.type === "item.deleted"),
            items.map((row) => row.payload.data.name ?? null),
            items.map((row) => row.payload.data.category ?? null),
            items.map((row) => row.payload.data.value ?? null),
          ]);
        }
        return rows.length;
      });
      if (claimed === 0) return;
    }
  };
  await Promise.all(Array.from({ length: LOOPS }, loop));
  const seconds = (performance.now() - started) / 1000;
  return { seconds, cpu: cpu.close() };
}

export const apply: BenchMode = {
  name: "apply",
  async run(ctx) {
    const run = new ModeRun(ctx, { mode: "apply", title: "apply: workers turning stored events into item state", ratios });
    run.context.push(
      `workload: ${n(EVENTS)} events over ${n(ITEMS)} items per tenant (rising versions, ~10% deletes, arrival order shuffled), stored as pending through the ingestion code`,
      `g: ${LOOPS} worker loops in the bench process, quantum ${env.WORKER_QUANTUM}, max batch ${env.WORKER_MAX_BATCH}; h: ${LOOPS} connections, ${RAW_BATCH} events per transaction`,
      'both run in the bench process, so its CPU column is theirs ("bench")',
    );
    const events = workload("ev", EVENTS, ITEMS);
    // Earlier modes leave pending events behind; the workers here must see only this mode's.
    await pool.query("DELETE FROM events WHERE status <> 'done'");

    // Warm-up: a small backlog, so that the pool, the prepared statements and the JIT are ready.
    const warm = await ctx.createTenant("bench-apply-warm");
    await storeWorkload(warm.id, workload("warm", 2_000, 500, 2));
    await drainWithWorkers(ctx, [warm.id]);

    const workers = await ctx.createTenant("bench-apply-workers");
    ctx.announce(`g) storing ${n(EVENTS)} pending events`);
    await storeWorkload(workers.id, events);
    ctx.announce("g) workers draining the backlog");
    const g = await drainWithWorkers(ctx, [workers.id]);
    ctx.announce(`g) ${Math.round(EVENTS / g.seconds)} events/s`);
    run.measurements.push({
      id: "apply-workers",
      label: "g) workers: claim, apply, outcomes, rollups",
      unit: "events/s",
      rate: EVENTS / g.seconds,
      count: EVENTS,
      seconds: g.seconds,
      connections: LOOPS,
      latency: null,
      cpu: cpuFigures(g.cpu, EVENTS, g.seconds),
      notes: [],
    });

    const raw = await ctx.createTenant("bench-apply-raw");
    ctx.announce(`h) storing ${n(EVENTS)} pending events`);
    await storeWorkload(raw.id, events);
    ctx.announce("h) raw upsert draining the backlog");
    const h = await drainRaw(ctx, [raw.id]);
    ctx.announce(`h) ${Math.round(EVENTS / h.seconds)} events/s`);
    run.measurements.push({
      id: "apply-raw-upsert",
      label: `h) raw pg: claim ${RAW_BATCH} + multi-row upsert`,
      unit: "events/s",
      rate: EVENTS / h.seconds,
      count: EVENTS,
      seconds: h.seconds,
      connections: LOOPS,
      latency: null,
      cpu: cpuFigures(h.cpu, EVENTS, h.seconds),
      notes: [],
    });

    const { rows: outcomes } = await pool.query<{ outcome: string; n: number }>(
      "SELECT outcome, count(*)::int AS n FROM events WHERE tenant_id = $1 GROUP BY outcome ORDER BY outcome",
      [workers.id],
    );
    const finished = outcomes.reduce((sum, row) => sum + row.n, 0);
    run.check(
      "g) every event has one outcome",
      finished === EVENTS && outcomes.every((row) => row.outcome !== null && row.outcome !== "dead"),
      outcomes.map((row) => `${row.outcome ?? "none"} ${n(row.n)}`).join(", "),
    );
    const model = modelState(events);
    const { rows: items } = await pool.query<{ item_id: string; version: number; deleted: boolean; name: string | null }>(
      "SELECT item_id, version, deleted, name FROM items WHERE tenant_id = $1",
      [workers.id],
    );
    const mismatched = items.filter((item) => {
      const expected = model.get(item.item_id);
      return !expected || expected.version !== item.version || expected.deleted !== item.deleted || expected.name !== item.name;
    }).length;
    run.check(
      "g) item state equals the model",
      items.length === model.size && mismatched === 0,
      `${n(items.length)} items, ${n(mismatched)} differ from the model`,
    );
    return run.report();
  },
};
