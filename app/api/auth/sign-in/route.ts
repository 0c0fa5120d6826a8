// Sign in with email and password; sets the httpOnly session cookie. The work is in server/auth.
import { clientIp, readFormPost, sessionStarted } from "@/server/auth/request.ts";
import { signIn } from "@/server/auth/sign-in.ts";
import { errorResponse } from "@/server/lib/http.ts";

export const dynamic = "force-dynamic";

export async function POST(request: Request): Promise<Response> {
  try {
    const body = await readFormPost(request);
    return sessionStarted(await signIn(body, clientIp(request)), request);
  } catch (error) {
    return errorResponse(error);
  }
}
