/**
 * What the auth edges need to know about a request: whether it comes from
 * this site (a cross-site POST carrying our cookie is refused: CSRF), whether
 * it arrived over HTTPS (cookies are then Secure), and the client address
 * (for the sign-in limits; resolved by server/http/client-address.ts, which
 * believes forwarding headers only as far as TRUST_PROXY says); and the two
 * shapes every auth form post shares: its body (same-origin JSON of at most
 * 16 KiB, no text the database cannot store) and the answer that sets a new
 * session's cookie.
 */
import { AppError } from "../errors.ts";
import { parseJson, readBodyWithLimit, requireJsonContentType } from "../lib/body.ts";
import { clientAddressOf } from "../http/client-address.ts";
import { jsonResponse } from "../lib/http.ts";
import { findUnstorable } from "../schemas/text.ts";
import { sessionCookie, sessionTokenFrom } from "./session.ts";

/** A form post is a few fields: anything larger is not one. */
const FORM_LIMIT_BYTES = 16 * 1024;

export function assertSameOrigin(request: Request): void {
  const origin = request.headers.get("origin");
  // Browsers send Origin on every cross-site POST; its absence means a same-site navigation or a non-browser client.
  if (origin === null) return;
  const host = request.headers.get("x-forwarded-host") ?? request.headers.get("host");
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    throw new AppError("forbidden", "cross-site request refused");
  }
  if (originHost !== host) throw new AppError("forbidden", "cross-site request refused");
}

/**
 * Whether the request came over HTTPS: X-Forwarded-Proto, which Next.js sets from the socket when it is absent
 * and the production server removes from clients unless TRUST_PROXY says a proxy set it.
 */
export function isHttps(request: Request): boolean {
  const forwarded = request.headers.get("x-forwarded-proto");
  return (forwarded ?? new URL(request.url).protocol.replace(":", "")) === "https";
}

/** isHttps for a server component, which has the headers but not the URL (Next.js always sets X-Forwarded-Proto). */
export function isHttpsHeaders(headers: Headers): boolean {
  return headers.get("x-forwarded-proto") === "https";
}

/** The session token the request carries, under the cookie name its scheme uses. */
export function sessionTokenOf(request: Request): string | undefined {
  return sessionTokenFrom(request.headers.get("cookie"), isHttps(request));
}

/** The client address the production server stamped on the request (see server/http/client-address.ts). */
export function clientIp(request: Request): string {
  return clientAddressOf(request.headers);
}

/** The JSON body of a form post from this site (sign-in, password change); refuses cross-site posts. */
export async function readFormPost(request: Request): Promise<unknown> {
  assertSameOrigin(request);
  requireJsonContentType(request);
  const body = parseJson(await readBodyWithLimit(request, FORM_LIMIT_BYTES));
  // Text the database cannot hold (NUL, a lone surrogate) is refused here, naming the field, before any lookup.
  const found = findUnstorable(body);
  if (found) {
    const path = found.path.join(".") || "(body)";
    throw new AppError("bad_request", `${path}: ${found.message}`, { details: [{ path, message: found.message }] });
  }
  return body;
}

/** The answer to a post that started a session: 200, with the session's cookie. */
export function sessionStarted(session: { token: string; expiresAt: Date }, request: Request): Response {
  return jsonResponse(200, { ok: true }, { "set-cookie": sessionCookie(session.token, session.expiresAt, isHttps(request)) });
}
