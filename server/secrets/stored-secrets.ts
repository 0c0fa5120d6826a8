/**
 * Every column that holds a secret at rest, and the one re-encryption of
 * them all: sealing plaintext values left by an older version (at start-up,
 * server/cli/bootstrap.ts) and moving every value to the current key
 * (`secrets rotate-key`).
 *
 * Guarantees:
 * - All or nothing: the caller's transaction holds every change, so a
 *   failure (a value that opens under no configured key, a lost connection)
 *   leaves every value as it was.
 * - Idempotent, and safe to run from two processes at once: each pass takes
 *   only the rows still to do, locked (FOR UPDATE, in key order, tenants
 *   before sources); a second pass waits for the first, re-reads the rows and
 *   finds them done.
 * - Values never leave this module in plaintext; only counts come back.
 *
 * server/collector/source-token.ts stays the only reader of a token for
 * use; this module opens tokens only to seal them again.
 */
import { isSealed, open, seal, SEALED_PREFIX, type SecretKeyring, type SecretPurpose } from "./secret-box.ts";

/** A connection inside a transaction the caller owns (pg.Client, or server/db.ts's Tx). */
export interface SqlTransaction {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

interface SealedColumn {
  table: "tenants" | "sources" | "alert_target";
  key: "id" | "tenant_id";
  column: string;
  purpose: SecretPurpose;
}

/** In lock order: tenants, then sources, then the alert target. */
export const SEALED_COLUMNS: readonly SealedColumn[] = [
  { table: "tenants", key: "id", column: "secret", purpose: "webhook-secret" },
  { table: "tenants", key: "id", column: "previous_secret", purpose: "webhook-secret" },
  { table: "sources", key: "tenant_id", column: "token", purpose: "source-token" },
  { table: "alert_target", key: "id", column: "secret", purpose: "alert-secret" },
];

export interface ResealCounts {
  /** Plaintext values sealed. */
  sealed: number;
  /** Values sealed under another key, sealed again under the current one. */
  resealed: number;
}

/**
 * Seals every plaintext value under the current key and, with scope "all",
 * re-seals every value sealed under another key (opened with the keyring's
 * previous key). Runs in the caller's transaction.
 */
export async function resealStoredSecrets(tx: SqlTransaction, keyring: SecretKeyring, scope: "plaintext" | "all"): Promise<ResealCounts> {
  const counts: ResealCounts = { sealed: 0, resealed: 0 };
  // Two columns of one table are one row lock; take the table's rows once, whichever column needs it.
  for (const table of ["tenants", "sources", "alert_target"] as const) {
    const columns = SEALED_COLUMNS.filter((column) => column.table === table);
    const key = columns[0]?.key as string;
    // "all": anything not sealed under the current key; "plaintext": anything not sealed at all.
    const done = scope === "all" ? `${SEALED_PREFIX}${keyring.current.id}:%` : `${SEALED_PREFIX}%`;
    const todo = columns.map(({ column }) => `(${column} IS NOT NULL AND ${column} NOT LIKE $1)`).join(" OR ");
    const selected = columns.map(({ column }) => column).join(", ");
    const { rows } = await tx.query(`SELECT ${key} AS key, ${selected} FROM ${table} WHERE ${todo} ORDER BY ${key} FOR UPDATE`, [done]);
    for (const row of rows as Record<string, string | number | null>[]) {
      const values: (string | null)[] = [];
      for (const { column, purpose } of columns) {
        const value = row[column] as string | null;
        if (value === null || value.startsWith(`${SEALED_PREFIX}${keyring.current.id}:`)) values.push(value);
        else if (!isSealed(value)) {
          values.push(seal(keyring, purpose, value));
          counts.sealed++;
        } else if (scope === "all") {
          values.push(seal(keyring, purpose, open(keyring, purpose, value)));
          counts.resealed++;
        } else values.push(value);
      }
      await tx.query(`UPDATE ${table} SET ${columns.map(({ column }, i) => `${column} = $${i + 2}`).join(", ")} WHERE ${key} = $1`, [row.key, ...values]);
    }
  }
  return counts;
}
