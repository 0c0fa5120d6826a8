// Readiness (server/readiness.ts): 200 when this process may take traffic, 503 otherwise (draining included), within 2 s.
import { jsonResponse } from "@/server/lib/http.ts";
import { checkReadiness } from "@/server/readiness.ts";

export const dynamic = "force-dynamic";

export async function GET(): Promise<Response> {
  const readiness = await checkReadiness();
  return jsonResponse(readiness.ready ? 200 : 503, readiness);
}
