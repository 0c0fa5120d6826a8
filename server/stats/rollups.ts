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
import { sql, statement, type Tx } from "../db.ts";
import { OUTCOMES, type EventType, type Outcome } from "../core/event.ts";
import { addToBins, LOG_GAMMA, MIN_TRACKED_MS, type Bins } from "./latency-sketch.ts";
import { lockSteps } from "../core/lock-order.ts";

export const ROLLUP_RESOLUTIONS = [60, 3_600] as const;

export interface ProcessedEvent {
  tenantId: number;
  type: EventType;
  outcome: Outcome;
  receivedAt: Date;
  processedAt: Date;
}

/**
 * Every counter of rollup_counts: its name here → its column. The one list;
 * the upsert below and the dashboard's series (server/stats/series.ts) are
 * derived from it. latency_sum_ms is the only fractional one.
 */
export const ROLLUP_COUNTERS = {
  receivedCreated: "received_created",
  receivedUpdated: "received_updated",
  receivedDeleted: "received_deleted",
  applied: "applied",
  stale: "stale",
  duplicate: "duplicate",
  rejected: "rejected",
  dead: "dead",
  latencyCount: "latency_count",
  latencySumMs: "latency_sum_ms",
  rateLimited: "rate_limited",
  redelivered: "redelivered",
  conflicts: "conflicts",
  invalid: "invalid",
} as const;

export type RollupCounter = keyof typeof ROLLUP_COUNTERS;

/**
 * SQL for the number of events that reached an outcome in a rollup row (or,
 * under sum(), in many): the sum of the outcome counters, derived from the
 * one outcome list. `alias` qualifies the columns ("r" gives r.applied + …).
 */
export function processedSql(alias?: string): string {
  return OUTCOMES.map((outcome) => (alias ? `${alias}.${ROLLUP_COUNTERS[outcome]}` : ROLLUP_COUNTERS[outcome])).join(" + ");
}
type Counts = Record<RollupCounter, number>;
const COUNTER_NAMES = Object.keys(ROLLUP_COUNTERS) as RollupCounter[];

const emptyCounts = (): Counts => Object.fromEntries(COUNTER_NAMES.map((name) => [name, 0])) as Counts;

const RECEIVED_COLUMN = { "item.created": "receivedCreated", "item.updated": "receivedUpdated", "item.deleted": "receivedDeleted" } as const;

export function bucketStart(date: Date, resolutionSeconds: number): number {
  const width = resolutionSeconds * 1000;
  return Math.floor(date.getTime() / width) * width;
}

const COLUMNS = COUNTER_NAMES.map((name) => ROLLUP_COUNTERS[name]);
const UPSERT_COUNTS = statement(
  "upsert_rollup_counts",
  `
INSERT INTO rollup_counts AS c (tenant_id, resolution, bucket, ${COLUMNS.join(", ")})
SELECT r.* FROM unnest($1::int[], $2::int[], $3::timestamptz[], ${COLUMNS.map((column, i) => `$${i + 4}::${column === "latency_sum_ms" ? "float8" : "bigint"}[]`).join(", ")}) AS r
    ON CONFLICT (tenant_id, resolution, bucket) DO UPDATE SET
       ${COLUMNS.map((column) => `${column} = c.${column} + excluded.${column}`).join(",\n       ")}`,
);

const UPSERT_LATENCY = statement(
  "upsert_rollup_latency",
  `
INSERT INTO rollup_latency AS l (tenant_id, resolution, bucket, bin, count)
SELECT r.* FROM unnest($1::int[], $2::int[], $3::timestamptz[], $4::int[], $5::bigint[]) AS r
    ON CONFLICT (tenant_id, resolution, bucket, bin) DO UPDATE SET count = l.count + excluded.count`,
);

type CountRow = { tenantId: number; resolution: number; bucket: number; counts: Counts };

/** Adds each row's counts (negative to retract) to rollup_counts, in key order: (tenant, resolution, bucket). */
async function addCounts(tx: Tx, rows: Iterable<CountRow>): Promise<void> {
  const sorted = [...rows].sort((a, b) => a.tenantId - b.tenantId || a.resolution - b.resolution || a.bucket - b.bucket);
  if (sorted.length === 0) return;
  lockSteps(tx).enter("rollup_counts");
  await sql(tx, UPSERT_COUNTS, [
    sorted.map((row) => row.tenantId),
    sorted.map((row) => row.resolution),
    sorted.map((row) => new Date(row.bucket)),
    ...COUNTER_NAMES.map((name) => sorted.map((row) => row.counts[name])),
  ]);
}

// date_part, not extract: float8 arithmetic, several times cheaper per row than extract's numeric, and exact here (the
// timestamps have millisecond precision; a bucket boundary divides to a whole number).
const bucketSql = (timestamp: string, resolution: string) => `to_timestamp(floor(date_part('epoch', ${timestamp}) / ${resolution}) * ${resolution})`;
const sqlText = (value: string) => `'${value.replace(/'/g, "''")}'`;

/**
 * CTEs that add the rollups of `source`, a CTE of the statement (columns
 * tenant_id, type, outcome, received_at, processed_at) listing events that
 * reached an outcome in it: exactly what recordRollups adds for the same
 * events (bucketStart, binOf, the counters and their columns), computed by
 * the database. rollup_counts rows, then rollup_latency rows, each in
 * ascending key order, as recordRollups takes them; the caller enters both
 * lock steps first. The CTE names start with rollup_.
 */
export function rollupsOf(source: string): string {
  const resolutions = ROLLUP_RESOLUTIONS.map((resolution) => `(${resolution})`).join(", ");
  const timed = "outcome IS NOT NULL AND outcome <> 'dead'";
  const computed: Partial<Record<RollupCounter, string>> = {
    latencyCount: `count(*) FILTER (WHERE ${timed})`,
    latencySumMs: `coalesce(sum(ms) FILTER (WHERE ${timed}), 0)`,
  };
  for (const [type, counter] of Object.entries(RECEIVED_COLUMN)) computed[counter] = `count(*) FILTER (WHERE received_type = ${sqlText(type)})`;
  for (const outcome of OUTCOMES) computed[outcome] = `count(*) FILTER (WHERE outcome = ${sqlText(outcome)})`;
  const selected = COUNTER_NAMES.map((name) => `${computed[name] ?? "0"} AS ${ROLLUP_COUNTERS[name]}`);
  return `
rollup_rows AS (
  SELECT s.tenant_id, r.resolution, ${bucketSql("s.received_at", "r.resolution")} AS bucket, s.type AS received_type, NULL::text AS outcome, NULL::float8 AS ms
    FROM ${source} s CROSS JOIN (VALUES ${resolutions}) AS r(resolution)
  UNION ALL
  SELECT s.tenant_id, r.resolution, ${bucketSql("s.processed_at", "r.resolution")}, NULL, s.outcome,
         greatest(0, round((date_part('epoch', s.processed_at) - date_part('epoch', s.received_at)) * 1000))
    FROM ${source} s CROSS JOIN (VALUES ${resolutions}) AS r(resolution)),
rollup_counts_added AS (
  INSERT INTO rollup_counts AS c (tenant_id, resolution, bucket, ${COLUMNS.join(", ")})
  SELECT tenant_id, resolution, bucket, ${selected.join(", ")}
    FROM rollup_rows GROUP BY tenant_id, resolution, bucket ORDER BY tenant_id, resolution, bucket
      ON CONFLICT (tenant_id, resolution, bucket) DO UPDATE SET
         ${COLUMNS.map((column) => `${column} = c.${column} + excluded.${column}`).join(", ")}),
rollup_latency_added AS (
  INSERT INTO rollup_latency AS l (tenant_id, resolution, bucket, bin, count)
  SELECT tenant_id, resolution, bucket, ceil(ln(greatest(ms, ${MIN_TRACKED_MS}::float8)) / ${LOG_GAMMA}::float8)::int AS bin, count(*)
    FROM rollup_rows WHERE ${timed}
   GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
      ON CONFLICT (tenant_id, resolution, bucket, bin) DO UPDATE SET count = l.count + excluded.count)`;
}

/** Counters by (tenant, resolution, bucket), filled in as events are counted. */
class CountTable {
  readonly rows = new Map<string, CountRow>();

  at(tenantId: number, resolution: number, date: Date): Counts {
    const bucket = bucketStart(date, resolution);
    const key = `${tenantId}:${resolution}:${bucket}`;
    let row = this.rows.get(key);
    if (!row) this.rows.set(key, (row = { tenantId, resolution, bucket, counts: emptyCounts() }));
    return row.counts;
  }
}

/** Adds `processed` (events of any tenants that reached an outcome in this transaction) to the rollups. */
export async function recordRollups(tx: Tx, processed: readonly ProcessedEvent[]): Promise<void> {
  if (processed.length === 0) return;
  const counts = new CountTable();
  const latency = new Map<string, { tenantId: number; resolution: number; bucket: number; bins: Bins }>();

  for (const event of processed) {
    for (const resolution of ROLLUP_RESOLUTIONS) {
      counts.at(event.tenantId, resolution, event.receivedAt)[RECEIVED_COLUMN[event.type]] += 1;
      const atProcessed = counts.at(event.tenantId, resolution, event.processedAt);
      atProcessed[event.outcome] += 1;
      if (event.outcome === "dead") continue;
      const ms = Math.max(0, event.processedAt.getTime() - event.receivedAt.getTime());
      atProcessed.latencyCount += 1;
      atProcessed.latencySumMs += ms;
      const bucket = bucketStart(event.processedAt, resolution);
      const key = `${event.tenantId}:${resolution}:${bucket}`;
      let entry = latency.get(key);
      if (!entry) latency.set(key, (entry = { tenantId: event.tenantId, resolution, bucket, bins: new Map() }));
      addToBins(entry.bins, ms);
    }
  }
  await addCounts(tx, counts.rows.values());

  const binRows = [...latency.values()]
    .flatMap((entry) => [...entry.bins].map(([bin, count]) => ({ ...entry, bin, count })))
    .sort((a, b) => a.tenantId - b.tenantId || a.resolution - b.resolution || a.bucket - b.bucket || a.bin - b.bin);
  if (binRows.length === 0) return;
  lockSteps(tx).enter("rollup_latency");
  await sql(tx, UPSERT_LATENCY, [
    binRows.map((row) => row.tenantId),
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
export async function retractDead(tx: Tx, dead: readonly Omit<ProcessedEvent, "outcome">[]): Promise<void> {
  const counts = new CountTable();
  for (const event of dead) {
    for (const resolution of ROLLUP_RESOLUTIONS) {
      counts.at(event.tenantId, resolution, event.receivedAt)[RECEIVED_COLUMN[event.type]] -= 1;
      counts.at(event.tenantId, resolution, event.processedAt).dead -= 1;
    }
  }
  await addCounts(tx, counts.rows.values());
}

/** Webhook answers that stored nothing, counted per tenant and minute by the ingestion edge. */
export type WebhookAnswer = "rateLimited" | "redelivered" | "conflicts" | "invalid";

export interface WebhookAnswerCount {
  tenantId: number;
  at: Date;
  answer: WebhookAnswer;
  count: number;
}

/** Adds webhook-answer counts for any number of tenants. */
export async function recordWebhookAnswers(tx: Tx, answers: readonly WebhookAnswerCount[]): Promise<void> {
  const counts = new CountTable();
  for (const { tenantId, at, answer, count } of answers) {
    for (const resolution of ROLLUP_RESOLUTIONS) counts.at(tenantId, resolution, at)[answer] += count;
  }
  await addCounts(tx, counts.rows.values());
}
