/**
 * The fairness panel's figures: each tenant's share of the events processed
 * in a range, beside its share of the weights. Read from the minute rollups
 * in one grouped statement, so the cost depends on the range and the number
 * of tenants, not on the number of events; only the busiest tenants come back
 * one by one, the rest as one "others" row whose figures are their sums, so
 * the shares still add up to 1 over any number of tenants.
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

export interface Fairness {
  /** The busiest tenants (most processed, then by slug), at most the number asked for. */
  busiest: FairnessShare[];
  /** Every other tenant, summed; null when there is none. */
  others: (Omit<FairnessShare, "slug"> & { tenants: number }) | null;
}

/** How many tenants the panel lists one by one. */
export const FAIRNESS_BUSIEST = 10;

const SHARES = `
WITH shares AS (
  SELECT t.slug, t.weight, coalesce(r.processed, 0)::float8 AS processed
    FROM tenants t
    LEFT JOIN (SELECT tenant_id, sum(${processedSql()}) AS processed FROM rollup_counts
                WHERE tenant_id = ANY($1::int[]) AND resolution = 60 AND bucket >= $2 AND bucket < $3
                GROUP BY tenant_id) r ON r.tenant_id = t.id
   WHERE t.id = ANY($1::int[])
), ranked AS (
  SELECT slug, weight, processed, row_number() OVER (ORDER BY processed DESC, slug) AS rank,
         count(*) OVER () AS tenants, sum(processed) OVER () AS total_processed, sum(weight) OVER () AS total_weight
    FROM shares
)
SELECT slug, weight, processed, tenants::int, total_processed::float8, total_weight::float8 FROM ranked WHERE rank <= $4 ORDER BY rank`;

/** The `busiest` tenants of `tenantIds` by events processed in [from, to), and the rest as "others". */
export async function getFairness(tenantIds: number[], from: Date, to: Date, busiest = FAIRNESS_BUSIEST): Promise<Fairness> {
  const rows = await sql<{ slug: string; weight: number; processed: number; tenants: number; total_processed: number; total_weight: number }>(pool, SHARES, [
    tenantIds,
    from,
    to,
    busiest,
  ]);
  const [first] = rows;
  if (!first) return { busiest: [], others: null };
  const share = (processed: number) => (first.total_processed === 0 ? 0 : processed / first.total_processed);
  const weightShare = (weight: number) => (first.total_weight === 0 ? 0 : weight / first.total_weight);
  const listed = rows.map((row) => ({
    slug: row.slug,
    weight: row.weight,
    processed: row.processed,
    share: share(row.processed),
    weightShare: weightShare(row.weight),
  }));
  const rest = first.tenants - rows.length;
  if (rest === 0) return { busiest: listed, others: null };
  const processed = first.total_processed - listed.reduce((sum, row) => sum + row.processed, 0);
  const weight = first.total_weight - listed.reduce((sum, row) => sum + row.weight, 0);
  return { busiest: listed, others: { tenants: rest, weight, processed, share: share(processed), weightShare: weightShare(weight) } };
}
