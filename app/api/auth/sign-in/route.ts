// Sign in with email and password; sets the httpOnly session cookie. The work is in server/auth.
import { assertSameOrigin, clientIp, isHttps } from "@/server/auth/request.ts";
import { sessionCookie } from "@/server/auth/session.ts";
import { signIn } from "@/server/auth/sign-in.ts";
import { readBodyWithLimit, parseJson, requireJsonContentType } from "@/server/lib/body.ts";
import { errorResponse, jsonResponse } from "@/server/lib/http.ts";

export const dynamic = "force-dynamic";

export async function POST(request: Request): Promise<Response> {
  try {
    assertSameOrigin(request);
    requireJsonContentType(request);
    const body = parseJson(await readBodyWithLimit(request, 16 * 1024));
    const session = await signIn(body, clientIp(request));
    return jsonResponse(200, { ok: true }, { "set-cookie": sessionCookie(session.token, session.expiresAt, isHttps(request)) });
  } catch (error) {
    return errorResponse(error);
  }
}
