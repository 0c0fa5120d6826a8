// Sign out: deletes the session (so the cookie is worthless even if kept) and clears the cookie.
import { assertSameOrigin, isHttps, sessionTokenOf } from "@/server/auth/request.ts";
import { clearedSessionCookie, deleteSession } from "@/server/auth/session.ts";
import { errorResponse, jsonResponse } from "@/server/lib/http.ts";

export const dynamic = "force-dynamic";

export async function POST(request: Request): Promise<Response> {
  try {
    assertSameOrigin(request);
    const token = sessionTokenOf(request);
    if (token) await deleteSession(token);
    return jsonResponse(200, { ok: true }, { "set-cookie": clearedSessionCookie(isHttps(request)) });
  } catch (error) {
    return errorResponse(error);
  }
}
