/**
 * Per-source gauges for Prometheus, computed when /api/metrics is scraped
 * (like the backlog gauges, server/stats/backlog-metrics.ts): how far each
 * source is behind its upstream and how many of its fetches failed in a row.
 *
 * - Lag is now − caught_up_at (the start of the last fetch that reached the
 *   upstream's end; `source status` shows the same as lagMs), on the
 *   database's clock; a source that was never caught up counts from its
 *   creation. Paused sources are left out: nobody expects them to keep up.
 * - The label set is bounded however many sources there are: the
 *   LAGGING_SOURCES furthest behind keep their tenant's slug, and the rest
 *   are one `other` series holding the largest lag and failure count among
 *   them.
 *
 * Registered once per process, by the metrics route that imports this module.
 */
import { Gauge } from "prom-client";
import { pool, sql, statement } from "../db.ts";
import { OTHER_LABEL } from "../lib/bounded-label.ts";
import { metrics, sharedPerScrape } from "../metrics.ts";

export const LAGGING_SOURCES = 20;

interface Row {
  tenant: string;
  lag_seconds: number;
  failures: number;
}

const SOURCE_LAGS = statement(
  "source_lags",
  `
WITH ranked AS (
  SELECT t.slug, extract(epoch FROM now() - coalesce(s.caught_up_at, s.created_at))::float8 AS lag_seconds, s.consecutive_failures,
         row_number() OVER (ORDER BY coalesce(s.caught_up_at, s.created_at), t.slug) AS rank
    FROM sources s JOIN tenants t ON t.id = s.tenant_id
   WHERE NOT s.paused
)
SELECT CASE WHEN rank <= $1 THEN slug ELSE $2 END AS tenant, max(lag_seconds) AS lag_seconds, max(consecutive_failures)::int AS failures
  FROM ranked
 GROUP BY 1`,
);

/** The furthest-behind sources' lags and failures, then one row for the rest (when there is a rest). */
export function sourceLags(): Promise<Row[]> {
  return sql<Row>(pool, SOURCE_LAGS, [LAGGING_SOURCES, OTHER_LABEL]);
}

const globalForGauges = globalThis as unknown as { tidemarkSourceGauges?: boolean };

if (!globalForGauges.tidemarkSourceGauges) {
  globalForGauges.tidemarkSourceGauges = true;
  // Both gauges are filled from one query per scrape.
  const rows = sharedPerScrape(sourceLags);
  new Gauge({
    name: "tidemark_collector_source_lag_seconds",
    help: `Seconds since a source was last caught up with its upstream, for the ${LAGGING_SOURCES} unpaused sources furthest behind (by tenant slug), and the rest's largest as tenant="${OTHER_LABEL}".`,
    labelNames: ["tenant"] as const,
    registers: [metrics.registry],
    async collect() {
      this.reset();
      for (const row of await rows()) this.set({ tenant: row.tenant }, Math.max(0, row.lag_seconds));
    },
  });
  new Gauge({
    name: "tidemark_collector_source_consecutive_failures",
    help: "Fetches of a source that failed in a row (0 after a success), for the same sources.",
    labelNames: ["tenant"] as const,
    registers: [metrics.registry],
    async collect() {
      this.reset();
      for (const row of await rows()) this.set({ tenant: row.tenant }, row.failures);
    },
  });
}
