/**
 * What a tenant's drain estimate (server/explain/eta.ts) is computed from,
 * read for one tenant whose access the caller checked: the live backlog
 * (pending + in flight), and for each minute of the last WINDOW_MINUTES and
 * the current one, the events that reached an outcome (minute rollups), the
 * events received (the inbox, by received_at, through its BRIN index) and the
 * backlog sample. Every minute of the window is returned, zeros where nothing
 * happened. Ages and minutes are on the database's clock.
 */
import { pool, sql, statement, type Queryable } from "../db.ts";
import { getBacklog } from "../stats/backlog.ts";
import { processedSql } from "../stats/rollups.ts";
import { BUCKET_MS, WINDOW_MINUTES, estimateDrain, type DrainBucket, type DrainEstimate, type DrainInput } from "./eta.ts";

const DRAIN_MINUTES = statement(
  "explain_drain_minutes",
  `
WITH clock AS (SELECT now() AS now, date_trunc('minute', now()) - $2 * interval '1 minute' AS start),
minutes AS (SELECT generate_series(clock.start, date_trunc('minute', clock.now), interval '1 minute') AS minute FROM clock),
served AS (
  SELECT r.bucket AS minute, sum(${processedSql("r")})::int AS processed FROM rollup_counts r, clock
   WHERE r.tenant_id = $1 AND r.resolution = 60 AND r.bucket >= clock.start
   GROUP BY r.bucket),
arrived AS (
  SELECT date_trunc('minute', e.received_at) AS minute, count(*)::int AS arrived FROM events e, clock
   WHERE e.tenant_id = $1 AND e.received_at >= clock.start
   GROUP BY 1)
SELECT (SELECT now FROM clock) AS now, m.minute, coalesce(s.processed, 0) AS processed, coalesce(a.arrived, 0) AS arrived, b.pending AS sample
  FROM minutes m
  LEFT JOIN served s ON s.minute = m.minute
  LEFT JOIN arrived a ON a.minute = m.minute
  LEFT JOIN backlog_samples b ON b.tenant_id = $1 AND b.minute = m.minute
 ORDER BY m.minute`,
);

export async function readDrainInput(tenantId: number, on: Queryable = pool): Promise<DrainInput> {
  const rows = await sql<{ now: Date; minute: Date; processed: number; arrived: number; sample: number | null }>(on, DRAIN_MINUTES, [tenantId, WINDOW_MINUTES]);
  const backlog = await getBacklog(tenantId, on);
  const buckets: DrainBucket[] = rows.map((row) => ({
    start: row.minute.getTime(),
    processed: row.processed,
    arrived: row.arrived,
    backlogSample: row.sample,
  }));
  return { now: rows[0]?.now.getTime() ?? Date.now(), backlog: backlog.pending + backlog.processing, buckets };
}

/** The tenant's drain estimate now. */
export async function tenantDrainEstimate(tenantId: number, on: Queryable = pool): Promise<DrainEstimate & { windowMinutes: number; bucketMs: number }> {
  return { ...estimateDrain(await readDrainInput(tenantId, on)), windowMinutes: WINDOW_MINUTES, bucketMs: BUCKET_MS };
}
