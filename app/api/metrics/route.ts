// Prometheus metrics of this process, with the backlog and source-lag gauges computed at the scrape.
// With METRICS_TOKEN set, only a scraper sending `Authorization: Bearer <token>` gets them (401 otherwise).
import "@/server/collector/lag-metrics.ts";
import "@/server/stats/backlog-metrics.ts";
import { env } from "@/server/env.ts";
import { bearerMatches } from "@/server/lib/bearer.ts";
import { jsonResponse } from "@/server/lib/http.ts";
import { metrics } from "@/server/metrics.ts";

export const dynamic = "force-dynamic";

export async function GET(request: Request): Promise<Response> {
  if (env.METRICS_TOKEN !== undefined && !bearerMatches(request.headers.get("authorization"), env.METRICS_TOKEN)) {
    return jsonResponse(401, { error: { code: "unauthorized", message: "a bearer token is required" } }, { "www-authenticate": 'Bearer realm="metrics"' });
  }
  return new Response(await metrics.registry.metrics(), { headers: { "content-type": metrics.registry.contentType } });
}
