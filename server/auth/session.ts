/**
 * Database-backed sessions.
 *
 * The browser holds a random 256-bit token in an httpOnly, SameSite=Lax
 * cookie, named `__Host-tidemark_session` (Secure, so no other site or
 * plain-HTTP page can set or shadow it) when the request came over HTTPS and
 * `tidemark_session` otherwise; the database holds only its SHA-256, so a copy of the sessions
 * table cannot be replayed. A session is revoked by deleting its row
 * (sign-out, or an admin revoking a user), which takes effect on the next
 * request. Sessions expire after SESSION_TTL_MS; an expired one is never
 * accepted, and its row is purged in small batches (`purgeExpiredSessions`:
 * on every sign-in, and in each retention round), so the table holds only
 * about the live sessions.
 */
import { createHash, randomBytes } from "node:crypto";
import { db } from "../db.ts";
import type { Role } from "../schemas/user.ts";

export const SESSION_COOKIE = "tidemark_session";
/** The name over HTTPS: browsers accept `__Host-` cookies only with Secure, Path=/ and no Domain. */
export const SECURE_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;
export const SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

export interface SessionUser {
  id: number;
  email: string;
  role: Role;
  /** Tenants the user is a member of (admins see all tenants regardless). */
  tenantIds: number[];
}

function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** A new session's token (for the cookie) and row id (its hash, for the database), not yet stored. */
export function newSessionToken(): { token: string; id: string; expiresAt: Date } {
  const token = randomBytes(32).toString("base64url");
  return { token, id: tokenHash(token), expiresAt: new Date(Date.now() + SESSION_TTL_MS) };
}

export async function createSession(userId: number): Promise<{ token: string; expiresAt: Date }> {
  const { token, id, expiresAt } = newSessionToken();
  await db.session.create({ data: { id, userId, expiresAt } });
  return { token, expiresAt };
}

/** The signed-in user for a cookie token, or null for a missing, unknown, expired or malformed one. */
export async function userForSession(token: string | undefined): Promise<SessionUser | null> {
  if (!token || token.length > 128) return null;
  const session = await db.session.findUnique({
    where: { id: tokenHash(token) },
    select: { expiresAt: true, user: { select: { id: true, email: true, role: true, memberships: { select: { tenantId: true } } } } },
  });
  if (!session || session.expiresAt <= new Date()) return null;
  const { user } = session;
  return { id: user.id, email: user.email, role: user.role as Role, tenantIds: user.memberships.map((m) => m.tenantId) };
}

/** Expired sessions removed per sign-in: one short statement on the expiry index. */
export const SIGN_IN_PURGE_BATCH = 500;

/**
 * Removes up to `limit` expired sessions in one statement and returns how many; rows another transaction holds
 * are skipped (SKIP LOCKED), never waited for.
 */
export async function purgeExpiredSessions(limit: number): Promise<number> {
  return db.$executeRaw`
    DELETE FROM sessions WHERE id IN (
      SELECT id FROM sessions WHERE expires_at <= now() LIMIT ${limit} FOR UPDATE SKIP LOCKED)`;
}

export async function deleteSession(token: string): Promise<void> {
  await db.session.deleteMany({ where: { id: tokenHash(token) } });
}

export async function revokeUserSessions(userId: number): Promise<number> {
  const { count } = await db.session.deleteMany({ where: { userId } });
  return count;
}

/** Reads one cookie from a Cookie header; a value that does not decode is no cookie (the visitor is signed out, not answered 500). */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key !== name) continue;
    try {
      return decodeURIComponent(rest.join("="));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export function sessionCookieName(secure: boolean): string {
  return secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE;
}

/** The session token in a Cookie header: over HTTPS only the `__Host-` cookie counts. */
export function sessionTokenFrom(cookieHeader: string | null, secure: boolean): string | undefined {
  return readCookie(cookieHeader, sessionCookieName(secure));
}

/** The Set-Cookie value for a session (or its removal, with expiresAt in the past). */
export function sessionCookie(token: string, expiresAt: Date, secure: boolean): string {
  const attributes = [`${sessionCookieName(secure)}=${encodeURIComponent(token)}`, "Path=/", "HttpOnly", "SameSite=Lax", `Expires=${expiresAt.toUTCString()}`];
  if (secure) attributes.push("Secure");
  return attributes.join("; ");
}

export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie("", new Date(0), secure);
}
