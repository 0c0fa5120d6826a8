/**
 * The signed-in user for server components and pages, from the session
 * cookie, read once per request however many layouts and pages ask (React's
 * cache). Pages use it to redirect to sign-in and to shape navigation; they
 * never decide data access with it (the tRPC procedures do).
 */
import { headers } from "next/headers";
import { cache } from "react";
import { isHttpsHeaders } from "./request.ts";
import { sessionTokenFrom, userForSession, type SessionUser } from "./session.ts";

export const getSessionUser = cache(async (): Promise<SessionUser | null> => {
  const incoming = await headers();
  return userForSession(sessionTokenFrom(incoming.get("cookie"), isHttpsHeaders(incoming)));
});
