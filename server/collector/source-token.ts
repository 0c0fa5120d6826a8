/**
 * A source's bearer token: the only module that reads or writes the
 * `sources.token` column. Every other statement on `sources` names its
 * columns and leaves this one out, so the token reaches only the collector's
 * fetches (as `authorization: Bearer …`) and never a status, a listing, an
 * API answer or a log line.
 *
 * The token is stored as given for now. Encryption at rest (as for the
 * webhook secrets) belongs here and nowhere else: seal on write, open on
 * read.
 */
import { sql, type Queryable } from "../db.ts";

/** SQL for "this source has a token", for status queries that must not read the token itself. */
export const HAS_TOKEN_SQL = "(token IS NOT NULL)";

/** Sets (or, with null, removes) the token of the source of `tenantId`. */
export async function writeSourceToken(on: Queryable, tenantId: number, token: string | null): Promise<void> {
  await sql(on, "UPDATE sources SET token = $2, updated_at = now() WHERE tenant_id = $1", [tenantId, token]);
}

/** The token to send to the source of `tenantId`, or null when it has none (or no source). */
export async function readSourceToken(on: Queryable, tenantId: number): Promise<string | null> {
  const rows = await sql<{ token: string | null }>(on, "SELECT token FROM sources WHERE tenant_id = $1", [tenantId]);
  return rows[0]?.token ?? null;
}
