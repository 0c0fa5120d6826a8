/**
 * Where alerts are POSTed: one URL and its `whsec_` signing secret for the
 * whole deployment (`alert target --url U`).
 *
 * Guarantees: the secret is generated here, shown once (by the caller that
 * set the target) and stored sealed (AES-256-GCM under TIDEMARK_SECRET_KEY,
 * purpose "alert-secret", server/secrets/secret-box.ts), so the row alone
 * does not give it; `secrets rotate-key` re-seals it with the other secrets.
 * Setting the target again replaces the URL and issues a new secret at once:
 * every delivery from then on, retries of older alerts included, goes to the
 * new URL signed with the new secret. Only the delivery loop opens the secret.
 */
import { pool, sql, type Queryable } from "../db.ts";
import { generateSecret } from "../ingest/signature.ts";
import { secretKeyring } from "../secrets/keyring.ts";
import { open, seal } from "../secrets/secret-box.ts";

export interface AlertTarget {
  url: string;
  secret: string;
}

/** Sets the target URL with a fresh secret; returns both (the only time the secret is shown). */
export async function setAlertTarget(url: string): Promise<AlertTarget> {
  const secret = generateSecret();
  await sql(
    pool,
    `INSERT INTO alert_target (id, url, secret, updated_at) VALUES (1, $1, $2, now())
         ON CONFLICT (id) DO UPDATE SET url = excluded.url, secret = excluded.secret, updated_at = now()`,
    [url, seal(secretKeyring(), "alert-secret", secret)],
  );
  return { url, secret };
}

/** The target with its secret opened, for the delivery loop; null when none is set. */
export async function readAlertTarget(on: Queryable = pool): Promise<AlertTarget | null> {
  const [row] = await sql<{ url: string; secret: string }>(on, "SELECT url, secret FROM alert_target WHERE id = 1");
  return row ? { url: row.url, secret: open(secretKeyring(), "alert-secret", row.secret) } : null;
}

/** The target's URL (never its secret), or null. */
export async function alertTargetUrl(on: Queryable = pool): Promise<string | null> {
  const [row] = await sql<{ url: string }>(on, "SELECT url FROM alert_target WHERE id = 1");
  return row?.url ?? null;
}
