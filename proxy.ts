/**
 * The Next.js proxy (Next.js 16's name for middleware), run before Next.js
 * routes any request, under `npm start` (behind server/http/fast-path.ts,
 * which has already done both) and wherever Next.js runs alone (`next dev`,
 * `next start`).
 *
 * Guarantees:
 * - A path whose percent-encoding does not decode is a 400 with the same body
 *   as the fast path's (server/http/malformed-path.ts), never the 500 Next.js
 *   16 would answer.
 * - Every answer Next.js gives carries the security headers
 *   (server/http/security-headers.ts), HSTS only when a trusted proxy
 *   (TRUST_PROXY ≥ 1) says the request came over HTTPS.
 */
import { NextResponse, type NextRequest } from "next/server";
import { env } from "@/server/env.ts";
import { hasMalformedPath, malformedPathError } from "@/server/http/malformed-path.ts";
import { requestCameOverTls, securityHeaders } from "@/server/http/security-headers.ts";
import { errorReply } from "@/server/lib/http.ts";

function refusal(): NextResponse {
  const reply = errorReply(malformedPathError());
  return new NextResponse(reply.body, { status: reply.status, headers: reply.headers });
}

export function proxy(request: NextRequest): NextResponse {
  // request.url is the path as sent, still percent-encoded.
  const response = hasMalformedPath(new URL(request.url).pathname) ? refusal() : NextResponse.next();
  const overTls = requestCameOverTls(false, request.headers.get("x-forwarded-proto") ?? undefined, env.TRUST_PROXY);
  for (const [name, value] of securityHeaders(overTls)) response.headers.set(name, value);
  return response;
}
