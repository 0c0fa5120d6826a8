/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com).
 *
 * The signed content is `${webhook-id}.${webhook-timestamp}.${raw body}`, the
 * MAC is HMAC-SHA256 under the base64 key of a `whsec_` secret, and the
 * `webhook-signature` header holds space-separated `v1,<base64>` entries.
 * Guarantees: a request verifies iff its timestamp is within the tolerance of
 * now and at least one v1 entry equals the MAC under at least one of the
 * tenant's live secrets; every comparison is constant-time (timingSafeEqual
 * over equal-length digests), and every entry is checked against every
 * secret, so the time taken does not depend on where a match is.
 *
 * A secret is decoded into a KeyObject once (signingKey), and the tenant
 * cache keeps the keys with the tenant, so the hot path neither decodes
 * base64 nor copies key bytes per request.
 */
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from "node:crypto";
import { AppError } from "../errors.ts";

export const SECRET_PREFIX = "whsec_";
/** Replay window: a signature older or newer than this is refused. */
export const TIMESTAMP_TOLERANCE_SECONDS = 5 * 60;

export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString("base64");
}

/** The HMAC key of a `whsec_` secret (the base64 after the prefix), decoded once. */
export function signingKey(secret: string): KeyObject {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  return createSecretKey(Buffer.from(encoded, "base64"));
}

function mac(key: KeyObject, id: string, timestamp: string, body: Buffer): Buffer {
  return createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest();
}

/** The `webhook-signature` header value for a payload (used by the CLI, tests and the benchmark). */
export function sign(secret: string, id: string, timestampSeconds: number, body: Buffer | string): string {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  return `v1,${mac(signingKey(secret), id, String(timestampSeconds), bytes).toString("base64")}`;
}

export interface SignedRequest {
  id: string;
  timestamp: string;
  signatureHeader: string;
  body: Buffer;
}

/** Throws a 401 AppError unless the request is signed by one of `secrets` within the tolerance. */
export function verifySignature(request: SignedRequest, secrets: readonly (string | KeyObject)[], nowSeconds: number): void {
  if (!/^\d{1,12}$/.test(request.timestamp)) {
    throw new AppError("timestamp_out_of_range", "webhook-timestamp must be unix seconds");
  }
  const skew = nowSeconds - Number(request.timestamp);
  if (skew > TIMESTAMP_TOLERANCE_SECONDS) {
    throw new AppError("timestamp_out_of_range", "webhook-timestamp is more than 5 minutes old");
  }
  if (skew < -TIMESTAMP_TOLERANCE_SECONDS) {
    throw new AppError("timestamp_out_of_range", "webhook-timestamp is more than 5 minutes in the future");
  }

  const candidates = request.signatureHeader
    .split(" ")
    .map((entry) => entry.split(","))
    .filter((parts) => parts.length === 2 && parts[0] === "v1")
    .map((parts) => Buffer.from(parts[1] ?? "", "base64"));

  let matched = false;
  for (const secret of secrets) {
    const expected = mac(typeof secret === "string" ? signingKey(secret) : secret, request.id, request.timestamp, request.body);
    for (const candidate of candidates) {
      // Lengths are public (every v1 MAC is 32 bytes); only equal lengths are compared.
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
    }
  }
  if (!matched) throw new AppError("invalid_signature", "no webhook-signature entry matches a current secret");
}
