/**
 * Once a minute, every tenant's backlog goes into backlog_samples, for the
 * dashboard's backlog chart. Every worker process samples; the first sample
 * of a minute wins (ON CONFLICT DO NOTHING), so any number of workers write
 * one row per tenant per minute, and none has to be elected.
 */
import { pool, sql } from "../db.ts";
import { BACKLOGS } from "./backlog.ts";

const SAMPLE = `
INSERT INTO backlog_samples (tenant_id, minute, pending, processing, dead, oldest_pending_age_ms)
SELECT b.tenant_id, date_trunc('minute', now()), b.pending, b.processing, b.dead, b.oldest_pending_age_ms
  FROM (${BACKLOGS}) AS b
    ON CONFLICT (tenant_id, minute) DO NOTHING
RETURNING tenant_id`;

/** Samples every tenant's backlog for the current minute; returns the rows written (0 if another worker was first). */
export async function sampleBacklogs(): Promise<number> {
  const tenants = await sql<{ id: number }>(pool, "SELECT id FROM tenants");
  if (tenants.length === 0) return 0;
  return (await sql(pool, SAMPLE, [tenants.map((tenant) => tenant.id)])).length;
}
