/**
 * Many tenants at once, set-based (one INSERT … SELECT generate_series), for
 * the dashboard bench and the paging tests: `<prefix>-00001` … with names
 * `<Name> 00001` …, default quotas, and a placeholder secret that nothing in
 * these runs reads (webhooks are not sent to them).
 */
import { pool, sql } from "../db.ts";

export interface BulkTenant {
  id: number;
  slug: string;
}

/** Inserts `count` tenants; returns them in number order (`…-00001` first). */
export async function insertBulkTenants(count: number, prefix = "bulk", name = "Tenant"): Promise<BulkTenant[]> {
  return sql<BulkTenant>(
    pool,
    `INSERT INTO tenants (slug, name, secret)
     SELECT $1 || '-' || lpad(g::text, 5, '0'), $2 || ' ' || lpad(g::text, 5, '0'), 'whsec_' || encode(sha256(g::text::bytea), 'base64')
       FROM generate_series(1, $3::int) AS g
     ORDER BY g
     RETURNING id, slug`,
    [prefix, name, count],
  ).then((rows) => rows.sort((a, b) => a.id - b.id));
}
