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
});

const RECEIVED_COLUMN = { "item.created": "receivedCreated", "item.updated": "receivedUpdated", "item.deleted": "receivedDeleted" } as const;

export function bucketStart(date: Date, resolutionSeconds: number): number {
  const width = resolutionSeconds * 1000;
  return Math.floor(date.getTime() / width) * width;
}

const UPSERT_COUNTS = `
INSERT INTO rollup_counts AS c (tenant_id, resolution, bucket, received_created, received_updated, received_deleted,
                                applied, stale, duplicate, rejected, dead, latency_count, latency_sum_ms)
SELECT $1, r.* FROM unnest($2::int[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[],
                           $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::float8[]) AS r
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
       latency_sum_ms = c.latency_sum_ms + excluded.latency_sum_ms`;

const UPSERT_LATENCY = `
INSERT INTO rollup_latency AS l (tenant_id, resolution, bucket, bin, count)
SELECT $1, r.* FROM unnest($2::int[], $3::timestamptz[], $4::int[], $5::bigint[]) AS r
    ON CONFLICT (tenant_id, resolution, bucket, bin) DO UPDATE SET count = l.count + excluded.count`;

/**
 * Adds `processed` to the tenant's rollups. `receivedToo` is false when the
 * events were already counted as received (a replayed dead event).
 */
export async function recordRollups(tx: Tx, tenantId: number, processed: readonly ProcessedEvent[], options: { countReceived?: boolean } = {}): Promise<void> {
  if (processed.length === 0) return;
  const countReceived = options.countReceived ?? true;
  const counts = new Map<string, { resolution: number; bucket: number; counts: Counts }>();
  const latency = new Map<string, { resolution: number; bucket: number; bins: Bins }>();
  const countsAt = (resolution: number, bucket: number) => {
    const key = `${resolution}:${bucket}`;
    let entry = counts.get(key);
    if (!entry) counts.set(key, (entry = { resolution, bucket, counts: emptyCounts() }));
    return entry.counts;
  };

  for (const event of processed) {
    for (const resolution of ROLLUP_RESOLUTIONS) {
      if (countReceived) countsAt(resolution, bucketStart(event.receivedAt, resolution))[RECEIVED_COLUMN[event.type]] += 1;
      const processedBucket = bucketStart(event.processedAt, resolution);
      const atProcessed = countsAt(resolution, processedBucket);
      atProcessed[event.outcome] += 1;
      if (event.outcome === "dead") continue;
      const ms = Math.max(0, event.processedAt.getTime() - event.receivedAt.getTime());
      atProcessed.latencyCount += 1;
      atProcessed.latencySumMs += ms;
      const key = `${resolution}:${processedBucket}`;
      let entry = latency.get(key);
      if (!entry) latency.set(key, (entry = { resolution, bucket: processedBucket, bins: new Map() }));
      addToBins(entry.bins, ms);
    }
  }

  const locks = lockSteps(tx);
  const countRows = [...counts.values()].sort((a, b) => a.resolution - b.resolution || a.bucket - b.bucket);
  locks.enter("rollup_counts");
  await sql(tx, UPSERT_COUNTS, [
    tenantId,
    countRows.map((row) => row.resolution),
    countRows.map((row) => new Date(row.bucket)),
    ...(["receivedCreated", "receivedUpdated", "receivedDeleted", "applied", "stale", "duplicate", "rejected", "dead", "latencyCount", "latencySumMs"] as const).map(
      (column) => countRows.map((row) => row.counts[column]),
    ),
  ]);

  const binRows = [...latency.values()]
    .flatMap((entry) => [...entry.bins].map(([bin, count]) => ({ resolution: entry.resolution, bucket: entry.bucket, bin, count })))
    .sort((a, b) => a.resolution - b.resolution || a.bucket - b.bucket || a.bin - b.bin);
  if (binRows.length === 0) return;
  locks.enter("rollup_latency");
  await sql(tx, UPSERT_LATENCY, [
    tenantId,
    binRows.map((row) => row.resolution),
    binRows.map((row) => new Date(row.bucket)),
    binRows.map((row) => row.bin),
    binRows.map((row) => row.count),
  ]);
}
