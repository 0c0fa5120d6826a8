/**
 * What the auth edges need to know about a request: whether it comes from
 * this site (a cross-site POST carrying our cookie is refused: CSRF), whether
 * it arrived over HTTPS (cookies are then Secure), and the client address
 * (for the per-IP sign-in limit).
 */
import { AppError } from "../errors.ts";

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

export function isHttps(request: Request): boolean {
  const forwarded = request.headers.get("x-forwarded-proto");
  return (forwarded ?? new URL(request.url).protocol.replace(":", "")) === "https";
}

/** The first hop of X-Forwarded-For (set by Next.js or a proxy in front of it), else "unknown". */
export function clientIp(request: Request): string {
  return request.headers.get("x-forwarded-for")?.split(",")[0]?.trim() || "unknown";
}
