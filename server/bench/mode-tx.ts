/**
 * `npm run bench -- tx`: the core's real transactions on the two engines of
 * server/db.ts, raw pg (named statements) and Prisma's interactive
 * transactions, in the same run, interleaved one transaction each in turn
 * (the order swapped every round: ABBA…), so a noisy shared machine slows
 * both alike. Per transaction: the time of the whole `transaction()` call
 * (connection, BEGIN, statements, COMMIT), one at a time.
 *
 *   ingest-1, ingest-50: storeRows as the group commit stores a group of 1
 *     and of 50 events; today it runs on the pool in autocommit (one INSERT,
 *     no BEGIN), so that is the raw figure; both transactions are measured too;
 *   apply-1, apply-200: the worker's apply transaction (lock the claim's
 *     rows and events, applyBatch, outcomes and the claim's release, rollups,
 *     committed asynchronously as the worker does) of 1 and of 200 claimed events;
 *   page-50: the collector's page commit (cursor compare-and-set, 50 events,
 *     counters) through commitPage;
 *   answers-flush: the webhook-answer counts' flush, a small transaction;
 *   floor: two trivial statements, the least any transaction costs.
 *
 * The ratio is the median Prisma time ÷ the median raw time; Tidemark runs a
 * transaction on Prisma where it is at most 1.05 (docs/design.md, "Transactions").
 */
import { randomUUID } from "node:crypto";
import { applyBatch } from "../core/apply.ts";
import { commitPage, type CursorRead } from "../collector/source-state.ts";
import { db, pool, sql, transaction, type TransactionEngine } from "../db.ts";
import { prismaQueryable } from "../db/prisma-transaction.ts";
import { storeRows, type StoreRow } from "../ingest/store-events.ts";
import { canonicalJson, sha256 } from "../lib/canonical-json.ts";
import { recordWebhookAnswers } from "../stats/rollups.ts";
import { lockOwnedEvents, markDone } from "../worker/inbox.ts";
import type { Claim } from "../worker/scheduler.ts";
import type { BenchContext, BenchMode } from "./harness.ts";
import { ModeRun } from "./mode-run.ts";
import { summarizeSorted } from "./percentiles.ts";
import type { Measurement, Ratio } from "./report.ts";
import { storeWorkload, workload, type WorkloadEvent } from "./workload.ts";

/** How a variant runs one transaction of a case: "raw"/"prisma" through transaction(), or the case's autocommit form. */
type Variant = TransactionEngine | "raw-autocommit" | "prisma-autocommit" | "prisma-plain";

interface Case {
  id: string;
  label: string;
  rounds: number;
  /** Rounds run before the measured ones (connections, statements, JIT). */
  warmup: number;
  variants: readonly Variant[];
  /** Prepares round `round` of `variant` (untimed), and returns the transaction to time. */
  prepare(variant: Variant, round: number): Promise<() => Promise<unknown>>;
}

const ENGINES: readonly TransactionEngine[] = ["raw", "prisma"];
const warmupFor = (rounds: number) => Math.max(5, Math.round(rounds / 10));
const APPLY_ITEMS = 2_000;

function eventsFor(tag: string, count: number): StoreRow["event"][] {
  return workload(tag, count, Math.max(1, count)).map((event) => ({ ...event, payloadHash: sha256(canonicalJson(event.body)) }));
}

function ingestCase(ctx: BenchContext, size: number, rounds: number): Case {
  let tenantId = 0;
  const tag = randomUUID().slice(0, 8);
  return {
    id: `ingest-${size}`,
    label: `storeRows, a group of ${size} new event${size === 1 ? "" : "s"}`,
    rounds,
    warmup: warmupFor(rounds),
    variants: ["raw-autocommit", "raw", "prisma", "prisma-autocommit"],
    async prepare(variant, round) {
      tenantId ||= (await ctx.createTenant(`bench-tx-ingest-${size}`)).id;
      const rows = eventsFor(`${tag}-${variant}-${round}`, size).map((event) => ({ tenantId, event }));
      if (variant === "raw-autocommit") return () => storeRows(rows, pool);
      if (variant === "prisma-autocommit") return () => storeRows(rows, prismaQueryable(db));
      return () => transaction((tx) => storeRows(rows, tx), { engine: variant as TransactionEngine });
    },
  };
}

/** The worker's apply transaction (server/worker/process.ts, applyClaim: its statements and its async commit), with the engine chosen. */
async function applyClaimed(claim: Claim, engine: TransactionEngine): Promise<number> {
  return transaction(
    async (tx) => {
      const outcomes = await markDone(tx, claim, await applyBatch(tx, await lockOwnedEvents(tx, claim)));
      return [...outcomes.values()].reduce((sum, count) => sum + count, 0);
    },
    { engine, asyncCommit: true },
  );
}

function applyCase(ctx: BenchContext, size: number, rounds: number): Case {
  const pending = new Map<TransactionEngine, number[]>();
  const tenantIds = new Map<TransactionEngine, number>();
  return {
    id: `apply-${size}`,
    label: `worker apply transaction, ${size} claimed event${size === 1 ? "" : "s"}`,
    rounds,
    warmup: warmupFor(rounds),
    variants: ENGINES,
    async prepare(variant, round) {
      const engine = variant as TransactionEngine;
      if (!pending.has(engine)) {
        // Each engine gets its own tenant and the same workload, so both do the same item writes.
        const tenant = await ctx.createTenant(`bench-tx-apply-${size}-${engine}`);
        const events: WorkloadEvent[] = workload(`apply-${size}`, size * (rounds + warmupFor(rounds)), APPLY_ITEMS, size);
        await storeWorkload(tenant.id, events);
        tenantIds.set(engine, tenant.id);
        const rows = await sql<{ id: number }>(pool, "SELECT id FROM events WHERE tenant_id = $1 ORDER BY id", [tenant.id]);
        pending.set(
          engine,
          rows.map((row) => row.id),
        );
      }
      const eventIds = (pending.get(engine) as number[]).slice(round * size, (round + 1) * size);
      const claim: Claim = { claimId: `bench:${randomUUID()}`, tenantIds: [tenantIds.get(engine) as number], eventIds, leaseMs: 60_000 };
      // What tidemark_claim writes for the events it takes: one claims row (the claim itself is not timed).
      await sql(pool, "INSERT INTO claims (claim_id, tenant_id, worker, event_ids, lease_until) VALUES ($1, $2, 'bench', $3, now() + interval '1 minute')", [
        claim.claimId,
        claim.tenantIds[0],
        eventIds,
      ]);
      return async () => {
        const applied = await applyClaimed(claim, engine);
        if (applied !== eventIds.length) throw new Error(`apply-${size}: ${applied} of ${eventIds.length} events finished`);
      };
    },
  };
}

function pageCase(ctx: BenchContext, size: number, rounds: number): Case {
  const sources = new Map<TransactionEngine, { tenantId: number; version: number }>();
  return {
    id: `page-${size}`,
    label: `collector page commit, ${size} new events`,
    rounds,
    warmup: warmupFor(rounds),
    variants: ENGINES,
    async prepare(variant, round) {
      const engine = variant as TransactionEngine;
      let source = sources.get(engine);
      if (!source) {
        const tenant = await ctx.createTenant(`bench-tx-page-${engine}`);
        await sql(
          pool,
          "INSERT INTO sources (tenant_id, url, interval_ms, page_size, lease_owner, lease_until, lease_token) VALUES ($1, 'http://127.0.0.1:9/feed', 60000, $2, 'bench', now(), 1)",
          [tenant.id, size],
        );
        source = { tenantId: tenant.id, version: 0 };
        sources.set(engine, source);
      }
      const current = source;
      const read = { tenantId: current.tenantId, cursorVersion: current.version } as CursorRead;
      const page = { nextCursor: `c-${round}`, hasMore: true, events: eventsFor(`page-${engine}-${round}`, size), invalid: [], fetchStartedAt: new Date() };
      return async () => {
        const result = await commitPage({ tenantId: current.tenantId, token: 1 }, read, page, 60_000, { engine });
        if (!result.committed) throw new Error(`page-${size}: the page did not commit`);
        current.version++;
      };
    },
  };
}

/** A small transaction of the edge: the webhook-answer counts flushed every few seconds (server/ingest/webhook-answers.ts). */
function answersCase(ctx: BenchContext, rounds: number): Case {
  let tenantId = 0;
  return {
    id: "answers-flush",
    label: "webhook answer counts flush, 4 counts",
    rounds,
    warmup: warmupFor(rounds),
    variants: ENGINES,
    async prepare(variant) {
      tenantId ||= (await ctx.createTenant("bench-tx-answers")).id;
      const at = new Date(Math.floor(Date.now() / 60_000) * 60_000);
      const answers = (["rateLimited", "redelivered", "conflicts", "invalid"] as const).map((answer) => ({ tenantId, at, answer, count: 1 }));
      return () => transaction((tx) => recordWebhookAnswers(tx, answers), { engine: variant as TransactionEngine });
    },
  };
}

/**
 * The floor of any transaction: two trivial statements. "prisma-plain" is
 * db.$transaction with $queryRawUnsafe and nothing of ours around it, so the
 * cost of server/db/prisma-transaction.ts itself shows.
 */
function floorCase(rounds: number): Case {
  return {
    id: "floor",
    label: "two trivial statements",
    rounds,
    warmup: warmupFor(rounds),
    variants: [...ENGINES, "prisma-plain"],
    async prepare(variant) {
      if (variant === "prisma-plain") {
        return () =>
          db.$transaction(async (prismaTx) => {
            await prismaTx.$queryRawUnsafe("SELECT 1");
            await prismaTx.$queryRawUnsafe("SELECT 2");
          });
      }
      return () =>
        transaction(
          async (tx) => {
            await sql(tx, "SELECT 1");
            await sql(tx, "SELECT 2");
          },
          { engine: variant as TransactionEngine },
        );
    },
  };
}

interface Timed {
  samples: Map<Variant, number[]>;
  /** Per round, Prisma ÷ raw of that round's pair. */
  pairedRatios: number[];
}

async function runCase(ctx: BenchContext, testCase: Case): Promise<Timed> {
  const warmupRounds = testCase.warmup;
  const samples = new Map<Variant, number[]>(testCase.variants.map((variant) => [variant, []]));
  const pairedRatios: number[] = [];
  ctx.announce(`${testCase.id}: ${warmupRounds} warm-up + ${testCase.rounds} rounds of ${testCase.variants.join(", ")}`);
  for (let round = 0; round < warmupRounds + testCase.rounds; round++) {
    const order = round % 2 === 0 ? testCase.variants : [...testCase.variants].reverse();
    const times = new Map<Variant, number>();
    for (const variant of order) {
      const run = await testCase.prepare(variant, round);
      const started = performance.now();
      await run();
      times.set(variant, performance.now() - started);
    }
    if (round < warmupRounds) continue;
    for (const [variant, ms] of times) samples.get(variant)?.push(ms);
    pairedRatios.push((times.get("prisma") as number) / (times.get("raw") as number));
  }
  return { samples, pairedRatios };
}

const median = (values: readonly number[]) => summarizeSorted([...values].sort((a, b) => a - b))?.p50 ?? NaN;

function measurementOf(testCase: Case, variant: Variant, samples: readonly number[]): Measurement {
  const sorted = [...samples].sort((a, b) => a - b);
  const total = samples.reduce((sum, ms) => sum + ms, 0);
  const latency = summarizeSorted(sorted);
  return {
    id: `${testCase.id}-${variant}`,
    label: `${testCase.id} ${variant}: ${testCase.label}`,
    unit: "tx/s",
    rate: (samples.length * 1000) / total,
    count: samples.length,
    seconds: total / 1000,
    connections: 1,
    latency,
    gauges: { minMs: sorted[0] ?? NaN, medianMs: latency?.p50 ?? NaN },
    notes: [],
  };
}

function ratios(measurements: readonly Measurement[]): Ratio[] {
  const medianOf = (id: string) => measurements.find((m) => m.id === id)?.latency?.p50;
  const out: Ratio[] = [];
  for (const m of measurements) {
    const caseId = m.id.replace(/-prisma(-autocommit|-plain)?$/, "");
    if (caseId === m.id) continue;
    for (const base of [`${caseId}-raw`, `${caseId}-raw-autocommit`]) {
      const top = medianOf(m.id);
      const bottom = medianOf(base);
      if (bottom === undefined || top === undefined) continue;
      out.push({
        label: `${m.id} ÷ ${base.slice(caseId.length + 1)}, median ms per transaction`,
        kind: "rate",
        numerator: m.id,
        denominator: base,
        value: top / bottom,
      });
    }
  }
  return out;
}

export const tx: BenchMode = {
  name: "tx",
  async run(ctx) {
    const run = new ModeRun(ctx, { mode: "tx", title: "tx: the core's transactions on raw pg and on Prisma, interleaved", ratios });
    // --duration scales the rounds: the default 10 s gives the counts below.
    const scale = Math.max(0.1, ctx.options.durationSeconds / 10);
    const rounds = (base: number) => Math.max(10, Math.round(base * scale));
    const cases = [
      floorCase(rounds(1_000)),
      ingestCase(ctx, 1, rounds(400)),
      ingestCase(ctx, 50, rounds(200)),
      applyCase(ctx, 1, rounds(400)),
      applyCase(ctx, 200, rounds(40)),
      pageCase(ctx, 50, rounds(200)),
      answersCase(ctx, rounds(400)),
    ];
    run.context.push(
      "per transaction: the whole transaction() call, one at a time on the bench's pool; variants alternate every transaction, the order swapped every round",
      "raw: server/db.ts's pool connection with named statements; prisma: db.$transaction with $queryRawUnsafe (server/db/prisma-transaction.ts)",
      "ingest's raw-autocommit is today's group commit (one INSERT on the pool, no BEGIN); prisma-autocommit is the same on db.$queryRawUnsafe",
    );
    for (const testCase of cases) {
      const timed = await runCase(ctx, testCase);
      for (const variant of testCase.variants) run.measurements.push(measurementOf(testCase, variant, timed.samples.get(variant) ?? []));
      const paired = [...timed.pairedRatios].sort((a, b) => a - b);
      run.context.push(
        `${testCase.id}: Prisma ÷ raw of each round's pair: median ${median(paired).toFixed(3)}, middle half ${(paired[Math.floor(paired.length / 4)] ?? NaN).toFixed(3)}–${(paired[Math.floor((paired.length * 3) / 4)] ?? NaN).toFixed(3)}`,
      );
      ctx.announce(
        `${testCase.id}: median ${testCase.variants.map((variant) => `${variant} ${median(timed.samples.get(variant) ?? []).toFixed(2)} ms`).join(", ")}`,
      );
    }
    const { rows } = await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM events e JOIN tenants t ON t.id = e.tenant_id WHERE t.slug LIKE 'bench-tx-apply-%' AND e.status <> 'done'",
    );
    run.check("every claimed event of the apply cases is done", rows[0]?.n === 0, `${rows[0]?.n ?? "?"} not done`);
    return run.report();
  },
};
