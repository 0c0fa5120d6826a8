/**
 * The fairness panel's figures: each tenant's share of the events processed
 * in a range, beside its share of the weights. Read from the minute rollups,
 * so the cost depends on the range and the number of tenants, not on the
 * number of events.
 */
import { pool, sql } from "../db.ts";
import { processedSql } from "./rollups.ts";

export interface FairnessShare {
  slug: string;
  weight: number;
  processed: number;
  /** Share of the processed events, 0–1. */
  share: number;
  /** Share of the weights, 0–1: what the scheduler aims the share at while every tenant is backlogged. */
  weightShare: number;
}

/** Each tenant's share of processed events in a range, beside its share of the weights. */
export async function getFairness(tenantIds: number[], from: Date, to: Date): Promise<FairnessShare[]> {
  const rows = await sql<{ tenant_id: number; slug: string; weight: number; processed: number }>(
    pool,
    `SELECT t.id AS tenant_id, t.slug, t.weight,
            coalesce((SELECT sum(${processedSql("r")}) FROM rollup_counts r
                       WHERE r.tenant_id = t.id AND r.resolution = 60 AND r.bucket >= $2 AND r.bucket < $3), 0)::float8 AS processed
       FROM tenants t WHERE t.id = ANY($1) ORDER BY t.slug`,
    [tenantIds, from, to],
  );
  const totalProcessed = rows.reduce((sum, row) => sum + row.processed, 0);
  const totalWeight = rows.reduce((sum, row) => sum + row.weight, 0);
  return rows.map((row) => ({
    slug: row.slug,
    weight: row.weight,
    processed: row.processed,
    share: totalProcessed === 0 ? 0 : row.processed / totalProcessed,
    weightShare: totalWeight === 0 ? 0 : row.weight / totalWeight,
  }));
}
