/**
 * `secrets rotate-key`: every stored secret (webhook secrets, previous
 * secrets, source tokens) re-encrypted under the new key in one transaction.
 *
 * - With TIDEMARK_SECRET_KEY given (any deployment with DATABASE_URL), the
 *   new key is TIDEMARK_SECRET_KEY and the old one TIDEMARK_PREVIOUS_SECRET_KEY:
 *   processes run with both during the rotation (they open values under
 *   either and seal under the new one), this re-seals what is still under the
 *   old one, and then the old key can be dropped.
 * - On the embedded default (the key in .data/secret.key), a new key is
 *   generated into .data/secret.key.next first, everything is re-sealed under
 *   it, and after the commit it replaces .data/secret.key. Stopped between
 *   the two, the next start opens values under either key, and running the
 *   command again finishes with the same new key.
 *
 * After the commit every tenant's shared cache entry is dropped, so no
 * process keeps reading a ciphertext under the old key from the cache.
 * All or nothing: a value that opens under no configured key fails the whole
 * rotation and changes nothing.
 */
import { db, transaction } from "../db.ts";
import { env } from "../env.ts";
import { forgetTenant } from "../ingest/tenant-lookup.ts";
import { pendingSecretKey, promotePendingSecretKey } from "../setup/secret-key-file.ts";
import { secretKeyring } from "./keyring.ts";
import { keyringOf, type SecretKeyring } from "./secret-box.ts";
import { resealStoredSecrets, type ResealCounts } from "./stored-secrets.ts";

export interface RotationResult extends ResealCounts {
  /** The id of the key everything is sealed under now. */
  keyId: string;
  /** Where the key is kept, when it is kept in a file (the embedded default). */
  keyFile: string | null;
}

export async function rotateSecretKey(keyFile: string | null): Promise<RotationResult> {
  let keyring: SecretKeyring;
  if (keyFile) {
    const next = await pendingSecretKey();
    const old = [env.TIDEMARK_SECRET_KEY, env.TIDEMARK_PREVIOUS_SECRET_KEY].filter((key): key is string => key !== undefined && key !== next);
    keyring = keyringOf(next, old);
  } else keyring = secretKeyring();

  const counts = await transaction((tx) => resealStoredSecrets(tx, keyring, "all"));
  if (keyFile) await promotePendingSecretKey();
  for (const { slug } of await db.tenant.findMany({ select: { slug: true } })) await forgetTenant(slug);
  return { keyId: keyring.current.id, ...counts, keyFile };
}
