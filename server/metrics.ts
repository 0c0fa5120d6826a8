/**
 * Process metrics in the Prometheus format, served by /api/metrics. One
 * registry per process (guarded across Next.js hot reloads and shared by the
 * production server and the Next.js bundle); modules record through the named
 * instruments below, never by creating their own.
 *
 * The process and runtime metrics keep prom-client's standard names
 * (process_cpu_seconds_total, nodejs_eventloop_lag_seconds, …), so stock
 * Node.js dashboards work unchanged; Tidemark's own start with tidemark_.
 * The exposition passes `promtool check metrics` (metrics.integration.test.ts).
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { BoundedLabel } from "./lib/bounded-label.ts";

/** Sources (one per tenant) with a `tenant` label of their own in the collector's counters; the rest are `other`. */
export const SOURCE_LABELS = 20;

function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client also exports these three as gauges named *_total, which Prometheus reserves for
  // counters (promtool refuses them); each has a correctly named twin without the suffix.
  for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) registry.removeSingleMetric(name);
  return {
    registry,
    httpRequestSeconds: new Histogram({
      name: "http_request_duration_seconds",
      help: "Time from a request's arrival to its answer's last byte (or the connection's end), by route template, method and status (aborted: no answer finished).",
      labelNames: ["route", "method", "status"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
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
    signInLimiterUnavailable: new Counter({
      name: "tidemark_sign_in_limiter_unavailable_total",
      help: "Sign-in and password-change attempts let through without a limiter decision because the shared store failed (fail open).",
      registers: [registry],
    }),
    signInSlowed: new Counter({
      name: "tidemark_sign_in_slowed_total",
      help: "Sign-in attempts delayed because their account had many recent attempts from anywhere (the per-account slow-down).",
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
    /** The `tenant` label of a source's counters (its tenant's slug, bounded: see SOURCE_LABELS). */
    sourceLabel: new BoundedLabel(SOURCE_LABELS),
    collectorFetches: new Counter({
      name: "tidemark_collector_fetches_total",
      help: `Page fetches from sources (pull mode), by source (tenant slug; the first ${SOURCE_LABELS} sources this process fetched, the rest as "other") and result: ok, http_error, timeout, network, malformed, too_large, stuck_cursor.`,
      labelNames: ["tenant", "result"] as const,
      registers: [registry],
    }),
    collectorFetchSeconds: new Histogram({
      name: "tidemark_collector_fetch_seconds",
      help: "Time to fetch and read one page from a source, failures included.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    collectorPagesCommitted: new Counter({
      name: "tidemark_collector_pages_committed_total",
      help: "Pulled pages whose events and cursor committed together, by source (tenant slug, bounded as for the fetches).",
      labelNames: ["tenant"] as const,
      registers: [registry],
    }),
    collectorEventsStored: new Counter({
      name: "tidemark_collector_events_stored_total",
      help: "Pulled events newly stored in the inbox (repeats of stored ids not counted), by source (tenant slug, bounded as for the fetches).",
      labelNames: ["tenant"] as const,
      registers: [registry],
    }),
    itemFetches: new Counter({
      name: "tidemark_item_fetches_total",
      help: "Fetches from tenants' item APIs for thin events, by result: ok, not_found, behind (a state older than the events it was for), http_error, timeout, network, malformed, too_large; no_item_api when the tenant has none.",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    alertTransitions: new Counter({
      name: "tidemark_alert_transitions_total",
      help: "Alerts that fired or resolved (result: fired, resolved), counted by the process whose evaluation round recorded them.",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    alertDeliveries: new Counter({
      name: "tidemark_alert_deliveries_total",
      help: "Alert delivery attempts to the alert target, by result: delivered (2xx) or failed (retried later).",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    collectorLostCommits: new Counter({
      name: "tidemark_collector_lost_commits_total",
      help: "Pages not committed because the cursor or the lease changed since the fetch began (nothing stored).",
      registers: [registry],
    }),
  };
}

const globalForMetrics = globalThis as unknown as { tidemarkMetrics?: ReturnType<typeof createMetrics> };

export const metrics = (globalForMetrics.tidemarkMetrics ??= createMetrics());

/**
 * One read per scrape for gauges filled from the same query: every collect()
 * of one scrape shares the read in flight, and the next scrape reads afresh.
 */
export function sharedPerScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let latest: Promise<T> | undefined;
  return () => (latest ??= read().finally(() => setImmediate(() => (latest = undefined))));
}
