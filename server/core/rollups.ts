/**
 * Per-tenant rollups, written once per processed batch in the batch's own
 * transaction, so they commit exactly when the outcomes they count commit.
 *
 * Two resolutions (60 s and 3,600 s) so that long ranges read few rows.
 * Received counts go to the bucket of received_at, outcomes and latency to
 * the bucket of processed_at. Counters are added with ON CONFLICT … DO
 * UPDATE SET n = n + excluded.n, and latency sketch bins likewise, so a
 * rollup row is never read by the application before it is written. Rows
 * are written in ascending key order (rollup_counts, then rollup_latency).
 */
import { sql, type Tx } from "../db.ts";
import type { EventType } from "../ingest/envelope.ts";
import { addToBins, type Bins } from "./latency-sketch.ts";
import { lockSteps } from "./lock-order.ts";

export const ROLLUP_RESOLUTIONS = [60, 3_600] as const;

export type Outcome = "applied" | "stale" | "duplicate" | "rejected" | "dead";

export interface ProcessedEvent {
  type: EventType;
  outcome: Outcome;
  receivedAt: Date;
  processedAt: Date;
}

interface Counts {
  receivedCreated: number;
  receivedUpdated: number;
  receivedDeleted: number;
  applied: number;
  stale: number;
  duplicate: number;
  rejected: number;
  dead: number;
  latencyCount: number;
  latencySumMs: number;
  rateLimited: number;
  redelivered: number;
  conflicts: number;
  invalid: number;
}

const emptyCounts = (): Counts => ({
  receivedCreated: 0,
  receivedUpdated: 0,
  receivedDeleted: 0,
  applied: 0,
  stale: 0,
  duplicate: 0,
  rejected: 0,
  dead: 0,
  latencyCount: 0,
  latencySumMs: 0,
  rateLimited: 0,
  redelivered: 0,
  conflicts: 0,
  invalid: 0,
});

const RECEIVED_COLUMN = { "item.created": "receivedCreated", "item.updated": "receivedUpdated", "item.deleted": "receivedDeleted" } as const;

export function bucketStart(date: Date, resolutionSeconds: number): number {
  const width = resolutionSeconds * 1000;
  return Math.floor(date.getTime() / width) * width;
}

const UPSERT_COUNTS = `
INSERT INTO rollup_counts AS c (tenant_id, resolution, bucket, received_created, received_updated, received_deleted,
                                applied, stale, duplicate, rejected, dead, latency_count, latency_sum_ms,
                                rate_limited, redelivered, conflicts, invalid)
SELECT $1, r.* FROM unnest($2::int[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[],
                           $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::float8[],
                           $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[]) AS r
    ON CONFLICT (tenant_id, resolution, bucket) DO UPDATE SET
       received_created = c.received_created + excluded.received_created,
       received_updated = c.received_updated + excluded.received_updated,
       received_deleted = c.received_deleted + excluded.received_deleted,
       applied = c.applied + excluded.applied,
       stale = c.stale + excluded.stale,
       duplicate = c.duplicate + excluded.duplicate,
       rejected = c.rejected + excluded.rejected,
       dead = c.dead + excluded.dead,
       latency_count = c.latency_count + excluded.latency_count,
       latency_sum_ms = c.latency_sum_ms + excluded.latency_sum_ms,
       rate_limited = c.rate_limited + excluded.rate_limited,
       redelivered = c.redelivered + excluded.redelivered,
       conflicts = c.conflicts + excluded.conflicts,
       invalid = c.invalid + excluded.invalid`;

const UPSERT_LATENCY = `
INSERT INTO rollup_latency AS l (tenant_id, resolution, bucket, bin, count)
SELECT $1, r.* FROM unnest($2::int[], $3::timestamptz[], $4::int[], $5::bigint[]) AS r
    ON CONFLICT (tenant_id, resolution, bucket, bin) DO UPDATE SET count = l.count + excluded.count`;

type CountRow = { resolution: number; bucket: number; counts: Counts };

/** Adds each row's counts (negative to retract) to the tenant's rollup_counts, in key order. */
async function addCounts(tx: Tx, tenantId: number, rows: Iterable<CountRow>): Promise<void> {
  const sorted = [...rows].sort((a, b) => a.resolution - b.resolution || a.bucket - b.bucket);
  if (sorted.length === 0) return;
  lockSteps(tx).enter("rollup_counts");
  await sql(tx, UPSERT_COUNTS, [
    tenantId,
    sorted.map((row) => row.resolution),
    sorted.map((row) => new Date(row.bucket)),
    ...COUNT_COLUMNS.map((column) => sorted.map((row) => row.counts[column])),
  ]);
}

const COUNT_COLUMNS = [
  "receivedCreated",
  "receivedUpdated",
  "receivedDeleted",
  "applied",
  "stale",
  "duplicate",
  "rejected",
  "dead",
  "latencyCount",
  "latencySumMs",
  "rateLimited",
  "redelivered",
  "conflicts",
  "invalid",
] as const;

class CountTable {
  readonly rows = new Map<string, CountRow>();

  at(resolution: number, date: Date): Counts {
    const bucket = bucketStart(date, resolution);
    const key = `${resolution}:${bucket}`;
    let row = this.rows.get(key);
    if (!row) this.rows.set(key, (row = { resolution, bucket, counts: emptyCounts() }));
    return row.counts;
  }
}

/** Adds `processed` (events that reached an outcome in this transaction) to the tenant's rollups. */
export async function recordRollups(tx: Tx, tenantId: number, processed: readonly ProcessedEvent[]): Promise<void> {
  if (processed.length === 0) return;
  const counts = new CountTable();
  const latency = new Map<string, { resolution: number; bucket: number; bins: Bins }>();

  for (const event of processed) {
    for (const resolution of ROLLUP_RESOLUTIONS) {
      counts.at(resolution, event.receivedAt)[RECEIVED_COLUMN[event.type]] += 1;
      const atProcessed = counts.at(resolution, event.processedAt);
      atProcessed[event.outcome] += 1;
      if (event.outcome === "dead") continue;
      const ms = Math.max(0, event.processedAt.getTime() - event.receivedAt.getTime());
      atProcessed.latencyCount += 1;
      atProcessed.latencySumMs += ms;
      const bucket = bucketStart(event.processedAt, resolution);
      const key = `${resolution}:${bucket}`;
      let entry = latency.get(key);
      if (!entry) latency.set(key, (entry = { resolution, bucket, bins: new Map() }));
      addToBins(entry.bins, ms);
    }
  }
  await addCounts(tx, tenantId, counts.rows.values());

  const binRows = [...latency.values()]
    .flatMap((entry) => [...entry.bins].map(([bin, count]) => ({ resolution: entry.resolution, bucket: entry.bucket, bin, count })))
    .sort((a, b) => a.resolution - b.resolution || a.bucket - b.bucket || a.bin - b.bin);
  if (binRows.length === 0) return;
  lockSteps(tx).enter("rollup_latency");
  await sql(tx, UPSERT_LATENCY, [
    tenantId,
    binRows.map((row) => row.resolution),
    binRows.map((row) => new Date(row.bucket)),
    binRows.map((row) => row.bin),
    binRows.map((row) => row.count),
  ]);
}

/**
 * Takes dead events back out of the rollups (their `dead` and their
 * `received`) when they are replayed: processing them again counts them
 * afresh, so each event is still counted once.
 */
export async function retractDead(tx: Tx, tenantId: number, dead: readonly Omit<ProcessedEvent, "outcome">[]): Promise<void> {
  const counts = new CountTable();
  for (const event of dead) {
    for (const resolution of ROLLUP_RESOLUTIONS) {
      counts.at(resolution, event.receivedAt)[RECEIVED_COLUMN[event.type]] -= 1;
      counts.at(resolution, event.processedAt).dead -= 1;
    }
  }
  await addCounts(tx, tenantId, counts.rows.values());
}

/** Webhook answers that stored nothing, counted per tenant and minute by the ingestion edge. */
export type WebhookAnswer = "rateLimited" | "redelivered" | "conflicts" | "invalid";

export interface WebhookAnswerCount {
  tenantId: number;
  at: Date;
  answer: WebhookAnswer;
  count: number;
}

/** Adds webhook-answer counts for any number of tenants, tenant by tenant in ascending id (the lock order). */
export async function recordWebhookAnswers(tx: Tx, counts: readonly WebhookAnswerCount[]): Promise<void> {
  const byTenant = new Map<number, CountTable>();
  for (const { tenantId, at, answer, count } of counts) {
    let table = byTenant.get(tenantId);
    if (!table) byTenant.set(tenantId, (table = new CountTable()));
    for (const resolution of ROLLUP_RESOLUTIONS) table.at(resolution, at)[answer] += count;
  }
  for (const [tenantId, table] of [...byTenant].sort(([a], [b]) => a - b)) await addCounts(tx, tenantId, table.rows.values());
}
