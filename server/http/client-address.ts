/**
 * Who is asking: the client address the sign-in limits are keyed by, and
 * whether the request arrived over TLS, decided from the socket and from
 * forwarding headers only as far as they are trusted.
 *
 * Guarantees:
 * - With `trustedHops` = 0 (TRUST_PROXY unset, the default) the address is
 *   the TCP peer's and the scheme is the socket's: X-Forwarded-For, -Proto,
 *   -Host and -Port sent by a client are removed before Next.js sees the
 *   request (Next.js only fills them in when absent, so a client could
 *   otherwise choose them).
 * - With `trustedHops` = N, the address is the one N hops from the right of
 *   X-Forwarded-For followed by the socket address (each trusted proxy
 *   appends the address it saw), as Express's `trust proxy` = N; a chain
 *   shorter than that gives its leftmost entry. Forwarded-Proto/Host are
 *   then the proxy's to set and are kept.
 * - The production server (server/cli/serve.ts) stamps every request it hands
 *   to Next.js with CLIENT_ADDRESS_HEADER, overwriting whatever a client
 *   sent under that name, and marks the process so the route handlers trust
 *   the stamp (`clientAddressOf`). Where nothing stamps requests (`next dev`,
 *   Next.js alone) the stamp is ignored and the route handlers fall back to
 *   X-Forwarded-For's last entry, which Next.js fills with the socket address
 *   only when a request has none: there a client can choose its own address
 *   (README, "Security model").
 */
import type http from "node:http";

export const CLIENT_ADDRESS_HEADER = "x-tidemark-client-address";
const FORWARDED_HEADERS = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port"] as const;

// Shared by serve.ts and Next.js's bundle of the route handlers (one process, two module graphs).
const STAMPED = Symbol.for("tidemark.clientAddressStamped");
type Marked = typeof globalThis & { [STAMPED]?: boolean };

/** IPv4 peers of a dual-stack socket read as ::ffff:a.b.c.d; one client, one key. */
function normalise(address: string): string {
  const trimmed = address.trim();
  return trimmed.startsWith("::ffff:") && trimmed.includes(".") ? trimmed.slice("::ffff:".length) : trimmed;
}

/** The client's address: `trustedHops` hops from the right of [...X-Forwarded-For, socket address]. */
export function resolveClientAddress(socketAddress: string | undefined, forwardedFor: string | string[] | undefined, trustedHops: number): string {
  const socket = normalise(socketAddress ?? "") || "unknown";
  if (trustedHops <= 0) return socket;
  const forwarded = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : (forwardedFor ?? ""))
    .split(",")
    .map(normalise)
    .filter((entry) => entry !== "");
  const chain = [...forwarded, socket];
  return chain[Math.max(0, chain.length - 1 - trustedHops)] ?? socket;
}

/**
 * Prepares a node:http request for Next.js: sets CLIENT_ADDRESS_HEADER to the resolved address (a client's own
 * value under that name is overwritten) and, with no trusted proxy, drops the client's X-Forwarded-* headers.
 */
export function stampClientAddress(request: http.IncomingMessage, trustedHops: number): void {
  (globalThis as Marked)[STAMPED] = true;
  request.headers[CLIENT_ADDRESS_HEADER] = resolveClientAddress(request.socket.remoteAddress, request.headers["x-forwarded-for"], trustedHops);
  if (trustedHops <= 0) for (const name of FORWARDED_HEADERS) delete request.headers[name];
}

/** The client address of a request that reached a route handler (see the module's header for the fallback). */
export function clientAddressOf(headers: Headers): string {
  if ((globalThis as Marked)[STAMPED]) {
    const stamped = headers.get(CLIENT_ADDRESS_HEADER);
    if (stamped) return stamped;
  }
  const forwarded = headers.get("x-forwarded-for")?.split(",");
  return normalise(forwarded?.[forwarded.length - 1] ?? "") || "unknown";
}
