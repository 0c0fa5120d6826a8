/**
 * Once a minute, every tenant's backlog goes into backlog_samples, for the
 * dashboard's backlog chart. Every worker process samples; the first sample
 * of a minute wins (ON CONFLICT DO NOTHING), so any number of workers write
 * one row per tenant per minute, and none has to be elected.
 */
import { pool, sql } from "../db.ts";

const SAMPLE = `
INSERT INTO backlog_samples (tenant_id, minute, pending, processing, dead, oldest_pending_age_ms)
SELECT t.id, date_trunc('minute', now()),
       (SELECT count(*) FROM events e WHERE e.tenant_id = t.id AND e.status = 'pending'),
       (SELECT count(*) FROM events e WHERE e.tenant_id = t.id AND e.status = 'processing'),
       (SELECT count(*) FROM events e WHERE e.tenant_id = t.id AND e.status = 'dead'),
       (SELECT greatest(0, floor(extract(epoch FROM now() - e.received_at) * 1000))
          FROM events e WHERE e.tenant_id = t.id AND e.status = 'pending' ORDER BY e.id LIMIT 1)
  FROM tenants t
    ON CONFLICT (tenant_id, minute) DO NOTHING`;

/** Samples every tenant's backlog for the current minute; returns the rows written (0 if another worker was first). */
export async function sampleBacklogs(): Promise<number> {
  const rows = await sql(pool, `${SAMPLE} RETURNING tenant_id`);
  return rows.length;
}
