/**
 * The security headers every answer carries, in one list, for every server
 * that answers: the production server's node:http layer (server/http/fast-path.ts
 * sets them on each response, the webhook fast path's and Next.js's alike).
 *
 * Guarantees:
 * - No page can be framed by another site (CSP `frame-ancestors 'none'`, and
 *   X-Frame-Options: DENY for browsers that predate it), no answer is
 *   content-sniffed into another type (nosniff), and other origins get at most
 *   this origin in Referer (strict-origin-when-cross-origin).
 * - The CSP lets the app load only from its own origin (scripts, styles,
 *   fetches, images, forms, `<base>`), and no plugins. Inline scripts and
 *   styles stay allowed: Next.js's App Router streams its payload in inline
 *   scripts and the charts set inline styles.
 * - Strict-Transport-Security only on an answer to a request that came over
 *   TLS (`requestCameOverTls`): the socket's own TLS, or X-Forwarded-Proto
 *   `https` when a trusted proxy (TRUST_PROXY ≥ 1) set it. Over plain HTTP
 *   it is never sent.
 * Pure data and functions (no server imports), so a Next.js proxy or config could use it too.
 */

/** Each directive on its own, so a test or a reader sees the policy whole. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-inline'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers every answer carries, whatever its scheme. */
export const SECURITY_HEADERS: ReadonlyArray<readonly [name: string, value: string]> = [
  ["Content-Security-Policy", CONTENT_SECURITY_POLICY],
  ["X-Frame-Options", "DENY"],
  ["X-Content-Type-Options", "nosniff"],
  ["Referrer-Policy", "strict-origin-when-cross-origin"],
];

/** Two years, subdomains included: only ever sent over TLS (see requestCameOverTls). */
export const STRICT_TRANSPORT_SECURITY = ["Strict-Transport-Security", "max-age=63072000; includeSubDomains"] as const;

/** The headers of an answer to a request that came over TLS (`overTls`) or not. */
export function securityHeaders(overTls: boolean): ReadonlyArray<readonly [name: string, value: string]> {
  return overTls ? [...SECURITY_HEADERS, STRICT_TRANSPORT_SECURITY] : SECURITY_HEADERS;
}

/**
 * Whether a request came over TLS: its own socket's TLS, or, behind `trustedHops` ≥ 1 trusted proxies, the
 * X-Forwarded-Proto the nearest one set (its last entry). A client's own X-Forwarded-Proto counts for nothing
 * when no proxy is trusted.
 */
export function requestCameOverTls(socketEncrypted: boolean, forwardedProto: string | string[] | undefined, trustedHops: number): boolean {
  if (socketEncrypted) return true;
  if (trustedHops <= 0 || forwardedProto === undefined) return false;
  const entries = (Array.isArray(forwardedProto) ? forwardedProto.join(",") : forwardedProto).split(",");
  return entries[entries.length - 1]?.trim().toLowerCase() === "https";
}
