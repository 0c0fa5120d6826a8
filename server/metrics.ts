/**
 * Process metrics in the Prometheus format, served by /api/metrics. One
 * registry per process (guarded across Next.js hot reloads); modules record
 * through the named instruments below, never by creating their own.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "tidemark_process_" });
  return {
    registry,
    webhookResponses: new Counter({
      name: "tidemark_webhook_responses_total",
      help: "Webhook answers by endpoint and HTTP status.",
      labelNames: ["endpoint", "status"] as const,
      registers: [registry],
    }),
    eventsStored: new Counter({
      name: "tidemark_events_stored_total",
      help: "Events durably stored in the inbox.",
      registers: [registry],
    }),
    rateLimiterUnavailable: new Counter({
      name: "tidemark_rate_limiter_unavailable_total",
      help: "Requests admitted without a rate-limit decision because the shared store failed (fail open).",
      registers: [registry],
    }),
    eventsProcessed: new Counter({
      name: "tidemark_events_processed_total",
      help: "Events that reached an outcome, by outcome.",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    transientRetries: new Counter({
      name: "tidemark_worker_transient_retries_total",
      help: "Batches retried after a transient database error, by SQLSTATE (40P01 is a deadlock).",
      labelNames: ["sqlstate"] as const,
      registers: [registry],
    }),
    cacheRequests: new Counter({
      name: "tidemark_cache_requests_total",
      help: "Shared-cache reads by cache and result: hit, miss (loaded), stale (an expired value served while another loads), bypass (cache store unavailable).",
      labelNames: ["cache", "result"] as const,
      registers: [registry],
    }),
    cacheLoads: new Counter({
      name: "tidemark_cache_loads_total",
      help: "Loads from the source behind a shared cache, by cache: what a stampede would multiply.",
      labelNames: ["cache"] as const,
      registers: [registry],
    }),
    cacheLoadSeconds: new Histogram({
      name: "tidemark_cache_load_seconds",
      help: "Time one load from the source behind a shared cache took.",
      labelNames: ["cache"] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    cacheInvalidationFailures: new Counter({
      name: "tidemark_cache_invalidation_failures_total",
      help: "Invalidations that could not reach the cache store (the entry then lives out its TTL).",
      labelNames: ["cache"] as const,
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: "tidemark_worker_batch_seconds",
      help: "Time to apply one claimed batch, commit included.",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
}

const globalForMetrics = globalThis as unknown as { tidemarkMetrics?: ReturnType<typeof createMetrics> };

export const metrics = (globalForMetrics.tidemarkMetrics ??= createMetrics());
