// Change the signed-in user's password; replaces every session of theirs with a new one (cookie). The work is in server/auth.
import { changePassword } from "@/server/auth/change-password.ts";
import { clientIp, readFormPost, sessionStarted, sessionTokenOf } from "@/server/auth/request.ts";
import { errorResponse } from "@/server/lib/http.ts";

export const dynamic = "force-dynamic";

export async function POST(request: Request): Promise<Response> {
  try {
    const body = await readFormPost(request);
    return sessionStarted(await changePassword(sessionTokenOf(request), body, clientIp(request)), request);
  } catch (error) {
    return errorResponse(error);
  }
}
