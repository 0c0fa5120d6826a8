/**
 * The signed-in user for server components, read once per request however
 * many layouts and pages ask (React's cache). For redirects and for shaping
 * navigation only: data access is decided by the tRPC procedures.
 */
import { cache } from "react";
import { currentUser } from "@/server/auth/current-user.ts";

export const getSessionUser = cache(currentUser);
