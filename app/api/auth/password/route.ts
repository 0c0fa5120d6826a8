// Change the signed-in user's password; replaces every session of theirs with a new one (cookie). The work is in server/auth.
import { changePassword } from "@/server/auth/change-password.ts";
import { assertSameOrigin, isHttps } from "@/server/auth/request.ts";
import { SESSION_COOKIE, readCookie, sessionCookie } from "@/server/auth/session.ts";
import { readBodyWithLimit, parseJson, requireJsonContentType } from "@/server/lib/body.ts";
import { errorResponse, jsonResponse } from "@/server/lib/http.ts";

export const dynamic = "force-dynamic";

export async function POST(request: Request): Promise<Response> {
  try {
    assertSameOrigin(request);
    requireJsonContentType(request);
    const body = parseJson(await readBodyWithLimit(request, 16 * 1024));
    const session = await changePassword(readCookie(request.headers.get("cookie"), SESSION_COOKIE), body);
    return jsonResponse(200, { ok: true }, { "set-cookie": sessionCookie(session.token, session.expiresAt, isHttps(request)) });
  } catch (error) {
    return errorResponse(error);
  }
}
