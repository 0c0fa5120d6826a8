// Liveness and readiness: 200 when PostgreSQL answers and the in-app workers are not failing to start, 503 otherwise. Redis is reported, not required.
import { checkHealth } from "@/server/health.ts";
import { jsonResponse } from "@/server/lib/http.ts";

export const dynamic = "force-dynamic";

export async function GET(): Promise<Response> {
  const health = await checkHealth();
  return jsonResponse(health.ok ? 200 : 503, health);
}
