/**
 * The signed-in user for server components and pages, from the session
 * cookie, read once per request however many layouts and pages ask (React's
 * cache). Pages use it to redirect to sign-in and to shape navigation; they
 * never decide data access with it (the tRPC procedures do).
 */
import { cookies } from "next/headers";
import { cache } from "react";
import { SESSION_COOKIE, userForSession, type SessionUser } from "./session.ts";

export const getSessionUser = cache(async (): Promise<SessionUser | null> => {
  const jar = await cookies();
  return userForSession(jar.get(SESSION_COOKIE)?.value);
});
