// Change the signed-in user's password; replaces every session of theirs with a new one (cookie). The work is in server/auth.
import { changePassword } from "@/server/auth/change-password.ts";
import { readFormPost, sessionStarted } from "@/server/auth/request.ts";
import { SESSION_COOKIE, readCookie } from "@/server/auth/session.ts";
import { errorResponse } from "@/server/lib/http.ts";

export const dynamic = "force-dynamic";

export async function POST(request: Request): Promise<Response> {
  try {
    const body = await readFormPost(request);
    return sessionStarted(await changePassword(readCookie(request.headers.get("cookie"), SESSION_COOKIE), body), request);
  } catch (error) {
    return errorResponse(error);
  }
}
