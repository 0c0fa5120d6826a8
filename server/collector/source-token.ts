/**
 * A source's bearer token: the only module that reads or writes the
 * `sources.token` column for use. Every other statement on `sources` names
 * its columns and leaves this one out, so the token reaches only the
 * collector's fetches (as `authorization: Bearer …`) and never a status, a
 * listing, an API answer or a log line.
 *
 * The token is stored sealed (AES-256-GCM under TIDEMARK_SECRET_KEY,
 * server/secrets/secret-box.ts): sealed on write, opened on read, so the
 * column alone does not give the token. (server/secrets/stored-secrets.ts
 * re-seals the column on a key rotation without using the token.)
 */
import { sql, type Queryable } from "../db.ts";
import { secretKeyring } from "../secrets/keyring.ts";
import { open, seal } from "../secrets/secret-box.ts";

/** SQL for "this source has a token", for status queries that must not read the token itself. */
export const HAS_TOKEN_SQL = "(token IS NOT NULL)";

/** Sets (or, with null, removes) the token of the source of `tenantId`. */
export async function writeSourceToken(on: Queryable, tenantId: number, token: string | null): Promise<void> {
  const stored = token === null ? null : seal(secretKeyring(), "source-token", token);
  await sql(on, "UPDATE sources SET token = $2, updated_at = now() WHERE tenant_id = $1", [tenantId, stored]);
}

/** The token to send to the source of `tenantId`, or null when it has none (or no source). */
export async function readSourceToken(on: Queryable, tenantId: number): Promise<string | null> {
  const rows = await sql<{ token: string | null }>(on, "SELECT token FROM sources WHERE tenant_id = $1", [tenantId]);
  const stored = rows[0]?.token ?? null;
  return stored === null ? null : open(secretKeyring(), "source-token", stored);
}
