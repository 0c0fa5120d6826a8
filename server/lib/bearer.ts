/**
 * Bearer-token checks for machine endpoints (/api/metrics). The comparison
 * takes the same time whatever the token given, its length included: both
 * sides are hashed to 32 bytes and compared with timingSafeEqual.
 */
import { createHash, timingSafeEqual } from "node:crypto";

const digest = (value: string) => createHash("sha256").update(value).digest();

/** True when `authorization` is exactly `Bearer <expected>` (the scheme case-insensitive, as RFC 9110 says). */
export function bearerMatches(authorization: string | null, expected: string): boolean {
  const match = /^bearer +(\S+) *$/i.exec(authorization ?? "");
  return timingSafeEqual(digest(match?.[1] ?? ""), digest(expected)) && match !== null;
}
