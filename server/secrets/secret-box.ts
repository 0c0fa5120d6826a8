/**
 * Secrets at rest: AES-256-GCM under a key from the environment, free of
 * configuration and I/O (callers pass the keyring), so the bootstrap, the
 * CLI and the server share it.
 *
 * Guarantees:
 * - A sealed value is `tmk1:<key id>:<base64url(iv ‖ ciphertext ‖ tag)>`:
 *   the version prefix tells it from a plaintext value (a `whsec_` secret or
 *   a bearer token), and the key id names the key it was sealed under, so a
 *   keyring holding the current and a previous key opens either, and a
 *   re-encryption knows what is left to do.
 * - Each seal draws a fresh random 96-bit IV, so sealing one value twice
 *   gives two ciphertexts.
 * - The prefix, the key id and the value's purpose (which column it belongs
 *   to) are authenticated as associated data: a ciphertext moved to another
 *   column, given another key id, or altered in any byte fails to open.
 * - A value that fails to open throws SecretBoxError naming the key id and
 *   never the value.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

export const SEALED_PREFIX = "tmk1:";
/** What a sealed value is for; part of the associated data. */
export type SecretPurpose = "webhook-secret" | "source-token" | "alert-secret";

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SEALED_PATTERN = /^tmk1:([0-9a-f]{8}):([A-Za-z0-9_-]+)$/;

export class SecretBoxError extends Error {
  override name = "SecretBoxError";
}

export interface SecretKey {
  /** 8 hex digits derived from the key; not secret. */
  id: string;
  bytes: Buffer;
}

export interface SecretKeyring {
  /** What new values are sealed under. */
  current: SecretKey;
  /** Every key that may open a value (the current one included), by id. */
  byId: ReadonlyMap<string, SecretKey>;
}

/** The key in `text` (32 bytes, base64 or base64url, padding optional), or null when it is not one. */
export function parseSecretKey(text: string): Buffer | null {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) return null;
  const bytes = Buffer.from(trimmed.replace(/-/g, "+").replace(/_/g, "/"), "base64");
  return bytes.length === KEY_BYTES ? bytes : null;
}

/** A new random key, as TIDEMARK_SECRET_KEY takes it. */
export function generateSecretKey(): string {
  return randomBytes(KEY_BYTES).toString("base64");
}

function keyOf(text: string, name: string): SecretKey {
  const bytes = parseSecretKey(text);
  if (!bytes) throw new SecretBoxError(`${name} must be 32 bytes in base64 (openssl rand -base64 32)`);
  const id = createHash("sha256").update("tidemark secret key id\0").update(bytes).digest("hex").slice(0, 8);
  return { id, bytes };
}

/** A keyring that seals under `current` and opens values under it or any of `previous`. */
export function keyringOf(current: string, previous: readonly string[] = []): SecretKeyring {
  const currentKey = keyOf(current, "the current secret key");
  const byId = new Map<string, SecretKey>([[currentKey.id, currentKey]]);
  for (const text of previous) {
    const key = keyOf(text, "a previous secret key");
    const known = byId.get(key.id);
    if (known && !known.bytes.equals(key.bytes)) throw new SecretBoxError(`two different secret keys share the id ${key.id}: generate another key`);
    byId.set(key.id, key);
  }
  return { current: currentKey, byId };
}

export function isSealed(value: string): boolean {
  return SEALED_PATTERN.test(value);
}

/** The id of the key `value` was sealed under, or null for a value that is not sealed. */
export function sealedKeyId(value: string): string | null {
  return SEALED_PATTERN.exec(value)?.[1] ?? null;
}

function associatedData(keyId: string, purpose: SecretPurpose): Buffer {
  return Buffer.from(`${SEALED_PREFIX}${keyId}:${purpose}`);
}

export function seal(keyring: SecretKeyring, purpose: SecretPurpose, plaintext: string): string {
  const { id, bytes } = keyring.current;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", bytes, iv);
  cipher.setAAD(associatedData(id, purpose));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return `${SEALED_PREFIX}${id}:${Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString("base64url")}`;
}

export function open(keyring: SecretKeyring, purpose: SecretPurpose, sealed: string): string {
  const match = SEALED_PATTERN.exec(sealed);
  if (!match) throw new SecretBoxError(`a stored ${purpose} is not sealed (it does not start with ${SEALED_PREFIX}<key id>:)`);
  const [, id, payload] = match as unknown as [string, string, string];
  const key = keyring.byId.get(id);
  if (!key) {
    throw new SecretBoxError(
      `a stored ${purpose} is sealed under key ${id}, which is not configured (TIDEMARK_SECRET_KEY is ${keyring.current.id}): ` +
        "give the old key as TIDEMARK_PREVIOUS_SECRET_KEY",
    );
  }
  const bytes = Buffer.from(payload, "base64url");
  if (bytes.length < IV_BYTES + TAG_BYTES) throw new SecretBoxError(`a stored ${purpose} sealed under key ${id} is truncated`);
  const decipher = createDecipheriv("aes-256-gcm", key.bytes, bytes.subarray(0, IV_BYTES));
  decipher.setAAD(associatedData(id, purpose));
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    throw new SecretBoxError(`a stored ${purpose} sealed under key ${id} fails authentication (altered, or moved from another column)`);
  }
}

/** The keyring TIDEMARK_SECRET_KEY and TIDEMARK_PREVIOUS_SECRET_KEY describe (the bootstrap and server/secrets/keyring.ts). */
export function keyringFromEnvironment(source: { TIDEMARK_SECRET_KEY?: string; TIDEMARK_PREVIOUS_SECRET_KEY?: string }): SecretKeyring {
  if (!source.TIDEMARK_SECRET_KEY) {
    throw new SecretBoxError("TIDEMARK_SECRET_KEY is not set: `npm start` and `npm run tidemark` set it for the embedded PostgreSQL; other processes need it");
  }
  return keyringOf(source.TIDEMARK_SECRET_KEY, source.TIDEMARK_PREVIOUS_SECRET_KEY ? [source.TIDEMARK_PREVIOUS_SECRET_KEY] : []);
}
