/**
 * `npm run bench -- cache`: the shared cache (server/cache) against a stampede,
 * and the item cache of thin events under the simulated feed.
 *
 *   s) stampede: 2 child processes × 100 readers of 50 hot keys for 4 s,
 *      TTL 500 ms, each load taking 20 ms, on the bench's Redis: loads per
 *      key per expiry through Tidemark's cache, and through a naive cache
 *      (a GET, and on a miss a load and a SET with the TTL: no jitter, no
 *      early refresh, no single flight) beside it; 3 repeats each, medians
 *      and ranges. Loads of a key are grouped into expiries as in
 *      server/cache/stampede.ts (a group: loads less than half the
 *      shortest TTL after its first).
 *   t) thin events under the simulated feed: a live seeded feed
 *      (server/sim/feed.ts, 3 whales and many short-lived items) at 200
 *      events/s for the bench's duration; every 100 ms the events that
 *      became available are stored as thin events (deletes as they are),
 *      as a tenant sending "this item changed" would, and the real workers
 *      (2 loops, in this process) resolve them through the item cache
 *      against the simulated upstream's item API (startSimServer, in this
 *      process). Figures: the item cache's hit ratio (from its metrics),
 *      item API fetches per thin event, and the events' outcomes; the final
 *      state is checked against the item API's.
 */
import { setSource } from "../collector/sources.ts";
import { pool, sql } from "../db.ts";
import { env } from "../env.ts";
import { metrics } from "../metrics.ts";
import { loadsPerExpiry, runStampedeProcess } from "../cache/stampede.ts";
import { canonicalJson, sha256 } from "../lib/canonical-json.ts";
import { storeEvents } from "../ingest/store-events.ts";
import { available, BLOCK_LENGTH, eventsBetween, itemState, toBody, type FeedEvent, type FeedSpec } from "../sim/feed.ts";
import { modelState } from "../core/model.ts";
import { startSimServer } from "../sim/upstream.ts";
import { Worker } from "../worker/worker.ts";
import type { TEventBody } from "../core/event.ts";
import { killOnExit } from "./children.ts";
import { waitUntilDrained } from "./drain.ts";
import type { BenchContext, BenchMode } from "./harness.ts";
import { ModeRun } from "./mode-run.ts";
import { formatCount as n } from "./report.ts";

const STAMPEDE = { keys: 50, readers: 100, processes: 2, durationMs: 4_000, ttlMs: 500, loadMs: 20, repeats: 3 };
const FEED_RATE = 200;
const SEND_EVERY_MS = 100;

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const spread = (values: readonly number[], digits = 0) =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;

async function stampede(ctx: BenchContext, run: ModeRun): Promise<void> {
  const results: Record<"ours" | "naive", { most: number; mean: number; loads: number; reads: number }[]> = { ours: [], naive: [] };
  for (let repeat = 0; repeat < STAMPEDE.repeats; repeat++) {
    for (const mode of ["ours", "naive"] as const) {
      const prefix = `${env.REDIS_KEY_PREFIX}stampede-${repeat}-${mode}:`;
      ctx.announce(
        `s) ${mode}, repeat ${repeat + 1}/${STAMPEDE.repeats}: ${STAMPEDE.processes} processes × ${STAMPEDE.readers} readers, ${STAMPEDE.keys} keys`,
      );
      const reports = await Promise.all(
        Array.from({ length: STAMPEDE.processes }, () =>
          runStampedeProcess(
            mode,
            STAMPEDE,
            { ...ctx.appEnv, REDIS_KEY_PREFIX: prefix },
            {
              onSpawn: killOnExit,
              onStderr: (text) => process.stderr.write(`[cache-${mode}] ${text}`),
            },
          ),
        ),
      );
      const loads = reports.flatMap((report) => report.loads);
      // Ours expires an entry after TTL × (1 − jitter) at the soonest; the naive cache after exactly the TTL.
      const figure = loadsPerExpiry(loads, mode === "ours" ? STAMPEDE.ttlMs * 0.8 : STAMPEDE.ttlMs);
      results[mode].push({ most: figure.most, mean: figure.mean, loads: loads.length, reads: reports.reduce((sum, report) => sum + report.reads, 0) });
    }
  }
  const line = (mode: "ours" | "naive") => {
    const r = results[mode];
    return `s) ${mode === "ours" ? "Tidemark's cache" : "naive cache    "}: loads per key per expiry, most ${spread(r.map((x) => x.most))}, mean ${spread(
      r.map((x) => x.mean),
      2,
    )}; loads ${spread(r.map((x) => x.loads))} for reads ${spread(r.map((x) => x.reads))} (median (range) of ${STAMPEDE.repeats})`;
  };
  run.context.push(
    `s) stampede: ${STAMPEDE.processes} processes × ${STAMPEDE.readers} readers of ${STAMPEDE.keys} keys for ${STAMPEDE.durationMs} ms, TTL ${STAMPEDE.ttlMs} ms, load ${STAMPEDE.loadMs} ms`,
    line("ours"),
    line("naive"),
  );
  const worst = Math.max(...results.ours.map((x) => x.most));
  run.check("s) at most 2 loads per key per expiry through Tidemark's cache", worst <= 2, `most in any repeat: ${worst}`);
  const naiveMost = median(results.naive.map((x) => x.most));
  run.check("s) the naive cache does stampede under this load (so the comparison means something)", naiveMost > 2, `median most: ${naiveMost}`);
}

async function itemCacheRequests(): Promise<Record<string, number>> {
  const counts: Record<string, number> = { hit: 0, miss: 0, stale: 0, bypass: 0 };
  for (const value of (await metrics.cacheRequests.get()).values) {
    if (value.labels.cache === "item") counts[String(value.labels.result)] = value.value;
  }
  return counts;
}

function thinOf(event: ReturnType<typeof eventsBetween>[number]): { eventId: string; body: TEventBody } {
  const body =
    event.type === "item.deleted"
      ? { type: event.type, timestamp: event.timestamp, data: { id: event.data.id, version: event.data.version } }
      : { type: event.type, thin: true, timestamp: event.timestamp, data: { id: event.data.id, version: event.data.version } };
  return { eventId: event.id, body: body as unknown as TEventBody };
}

async function thinUnderFeed(ctx: BenchContext, run: ModeRun): Promise<void> {
  const spec: FeedSpec = { seed: 7, kind: "live", ratePerSecond: FEED_RATE };
  const sim = await startSimServer();
  ctx.onModeEnd("stop the simulated upstream", () => sim.close());
  const tenant = await ctx.createTenant("bench-thin");
  await setSource({ id: tenant.id, slug: tenant.slug }, { url: sim.feedUrl(spec), itemUrl: sim.itemUrl(spec) });
  // No collector runs in the bench process: the feed is sent as thin events below, not pulled.
  const worker = new Worker({
    concurrency: 2,
    quantum: env.WORKER_QUANTUM,
    maxBatch: env.WORKER_MAX_BATCH,
    leaseMs: env.WORKER_LEASE_MS,
    maxAttempts: env.WORKER_MAX_ATTEMPTS,
    pollMs: 20,
  });
  const before = await itemCacheRequests();
  await worker.start();
  ctx.onModeEnd("stop the workers", () => worker.stop());

  const durationMs = ctx.options.durationSeconds * 1_000;
  ctx.announce(`t) the live feed at ${FEED_RATE} events/s for ${ctx.options.durationSeconds} s, sent as thin events every ${SEND_EVERY_MS} ms`);
  const started = Date.now();
  let position = available(spec, started);
  const firstSent = position;
  const sentByItem = new Map<string, FeedEvent[]>();
  let sent = 0;
  let thin = 0;
  const items = new Set<string>();
  let lastSendAt = started;
  while (Date.now() - started < durationMs) {
    await new Promise((resolve) => setTimeout(resolve, SEND_EVERY_MS));
    lastSendAt = Date.now();
    const end = available(spec, lastSendAt);
    const feedEvents = eventsBetween(spec, position, end);
    for (const event of feedEvents) sentByItem.set(event.data.id, [...(sentByItem.get(event.data.id) ?? []), event]);
    const events = feedEvents.map(thinOf);
    position = end;
    if (events.length === 0) continue;
    const unique = [...new Map(events.map((event) => [event.eventId, event])).values()];
    await storeEvents(
      tenant.id,
      unique.map((event) => ({ eventId: event.eventId, body: event.body, payloadHash: sha256(canonicalJson(event.body)) })),
    );
    sent += unique.length;
    for (const event of unique) {
      items.add(event.body.data.id);
      if ("thin" in event.body) thin++;
    }
  }
  const sentAt = Date.now();
  if (!(await waitUntilDrained([tenant.id], 120_000))) throw new Error("thin events were not all processed within 2 minutes of the last one sent");
  const drainMs = Date.now() - sentAt;
  const after = await itemCacheRequests();
  const delta = Object.fromEntries(Object.keys(after).map((result) => [result, (after[result] ?? 0) - (before[result] ?? 0)]));
  const reads = Object.values(delta).reduce((sum, value) => sum + value, 0);
  const fetches = sim.requests.filter((request) => request.path.includes("/items/")).length;
  const outcomes = await sql<{ outcome: string; n: number }>(
    pool,
    "SELECT outcome, count(*)::int AS n FROM events WHERE tenant_id = $1 GROUP BY outcome ORDER BY outcome",
    [tenant.id],
  );

  // The end state must be the item API's: as it answered at the last send, or a newer answer fetched since (up to now).
  const now = Date.now();
  const stored = await sql<{ item_id: string; version: number; deleted: boolean; name: string | null }>(
    pool,
    "SELECT item_id, version, deleted, name FROM items WHERE tenant_id = $1",
    [tenant.id],
  );
  let mismatched = 0;
  // The item API knows the feed from before the run began, which the run never sent: an item whose earlier
  // events were not sent, and that was sent only deletes (full events: nothing was fetched for it), rightly holds
  // the state of those deletes (seen: a delete at version 5 sent, the version 6 from before the run not).
  const unsentHistory = eventsBetween(spec, Math.max(0, firstSent - 2 * BLOCK_LENGTH), firstSent);
  const onlyWhatWasSent = (row: (typeof stored)[number]) => {
    if (!unsentHistory.some((event) => event.data.id === row.item_id)) return false;
    const sent = sentByItem.get(row.item_id) ?? [];
    if (sent.some((event) => event.type !== "item.deleted")) return false; // a thin event was resolved through the API
    const state = modelState(sent.map((event) => ({ eventId: event.id, body: toBody(event) }))).get(row.item_id);
    return state !== undefined && state.deleted === row.deleted && state.version === row.version && (state.deleted || state.name === row.name);
  };
  const same = (row: (typeof stored)[number], state: ReturnType<typeof itemState>) =>
    state ? !row.deleted && row.version === state.version && row.name === state.name : row.deleted;
  for (const row of stored) {
    const atLastSend = itemState(spec, row.item_id, lastSendAt);
    const atEnd = itemState(spec, row.item_id, now);
    const between = row.version > (atLastSend?.version ?? 0) && row.version <= (atEnd?.version ?? Number.POSITIVE_INFINITY);
    if (!same(row, atLastSend) && !same(row, atEnd) && !between && !onlyWhatWasSent(row)) {
      mismatched++;
      // What a failing check needs to be diagnosed: the row, the API's two answers, and the item's events.
      if (mismatched <= 3) {
        const history = await sql(
          pool,
          "SELECT event_id, type, version, payload, outcome, received_at, processed_at FROM events WHERE tenant_id = $1 AND item_id = $2 ORDER BY id",
          [tenant.id, row.item_id],
        );
        ctx.announce(`t) item ${row.item_id} differs: ${JSON.stringify({ stored: row, atLastSend, atEnd, lastSendAt, checkedAt: now, history })}`);
      }
    }
  }

  run.context.push(
    `t) thin events under the simulated feed (seed 7, ${FEED_RATE} events/s, ${ctx.options.durationSeconds} s): ${n(sent)} events stored (${n(thin)} thin) for ${n(items.size)} items; drained ${n(drainMs)} ms after the last send`,
    `t) item cache: ${n(reads)} reads, hit ratio ${reads === 0 ? "–" : ((delta.hit ?? 0) / reads).toFixed(3)} (${Object.entries(delta)
      .map(([result, count]) => `${result} ${n(count)}`)
      .join(
        ", ",
      )}); item API fetches ${n(fetches)} = ${thin === 0 ? "–" : (fetches / thin).toFixed(3)} per thin event, ${(fetches / Math.max(1, items.size)).toFixed(2)} per item`,
    `t) outcomes: ${outcomes.map((row) => `${row.outcome ?? "none"} ${n(row.n)}`).join(", ")}`,
  );
  run.measurements.push({
    id: "thin-feed",
    label: "t) thin events resolved and applied (live feed, 2 worker loops)",
    unit: "events/s",
    rate: sent / ((sentAt - started + drainMs) / 1000),
    count: sent,
    seconds: (sentAt - started + drainMs) / 1000,
    connections: 2,
    latency: null,
    notes: [`offered at ${FEED_RATE}/s: the rate is the feed's, not a ceiling`],
  });
  run.check(
    "t) every thin event reached an outcome, none dead",
    !outcomes.some((row) => row.outcome === "dead" || row.outcome === null),
    JSON.stringify(outcomes),
  );
  run.check("t) the stored items agree with the item API", mismatched === 0, `${mismatched} of ${stored.length} differ`);
}

export const cache: BenchMode = {
  name: "cache",
  async run(ctx) {
    const run = new ModeRun(ctx, {
      mode: "cache",
      title: "cache: loads per key per expiry (ours vs naive), and the item cache under the simulated feed",
      ratios: () => [],
    });
    await stampede(ctx, run);
    await thinUnderFeed(ctx, run);
    return run.report();
  },
};
