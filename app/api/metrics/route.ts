// Prometheus metrics of this process, with the backlog gauges computed at the scrape.
import "@/server/stats/backlog-metrics.ts";
import { metrics } from "@/server/metrics.ts";

export const dynamic = "force-dynamic";

export async function GET(): Promise<Response> {
  return new Response(await metrics.registry.metrics(), { headers: { "content-type": metrics.registry.contentType } });
}
