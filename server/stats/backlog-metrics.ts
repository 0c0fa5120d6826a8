/**
 * Backlog gauges for Prometheus, computed when /api/metrics is scraped (never
 * on a timer, so an unscraped process pays nothing): pending events and the
 * oldest pending event's age per tenant. The label set is bounded whatever
 * the number of tenants: the BUSIEST_TENANTS with the most pending events by
 * slug, and everyone else summed (ages: the oldest) under tenant="other".
 *
 * Registered once per process, by the metrics route that imports this module.
 */
import { Gauge } from "prom-client";
import { pool, sql } from "../db.ts";
import { metrics, sharedPerScrape } from "../metrics.ts";
import { getBacklogs } from "./backlog.ts";

export const BUSIEST_TENANTS = 20;
export const OTHER_TENANTS = "other";

interface Row {
  tenant: string;
  pending: number;
  oldestPendingAgeMs: number | null;
}

/** The busiest tenants' rows, then one for the rest (when there is a rest). */
export async function backlogByTenant(): Promise<Row[]> {
  const tenants = await sql<{ id: number; slug: string }>(pool, "SELECT id, slug FROM tenants");
  const backlogs = await getBacklogs(tenants.map((tenant) => tenant.id));
  const rows = tenants
    .map((tenant) => ({ tenant: tenant.slug, ...(backlogs.get(tenant.id) ?? { pending: 0, oldestPendingAgeMs: null }) }))
    .sort((a, b) => b.pending - a.pending || (b.oldestPendingAgeMs ?? 0) - (a.oldestPendingAgeMs ?? 0) || (a.tenant < b.tenant ? -1 : 1));
  const busiest: Row[] = rows.slice(0, BUSIEST_TENANTS).map(({ tenant, pending, oldestPendingAgeMs }) => ({ tenant, pending, oldestPendingAgeMs }));
  const rest = rows.slice(BUSIEST_TENANTS);
  if (rest.length === 0) return busiest;
  const ages = rest.flatMap((row) => (row.oldestPendingAgeMs === null ? [] : [row.oldestPendingAgeMs]));
  return [
    ...busiest,
    { tenant: OTHER_TENANTS, pending: rest.reduce((sum, row) => sum + row.pending, 0), oldestPendingAgeMs: ages.length > 0 ? Math.max(...ages) : null },
  ];
}

const globalForGauges = globalThis as unknown as { tidemarkBacklogGauges?: boolean };

if (!globalForGauges.tidemarkBacklogGauges) {
  globalForGauges.tidemarkBacklogGauges = true;
  // Both gauges are filled from one query per scrape.
  const rows = sharedPerScrape(backlogByTenant);
  new Gauge({
    name: "tidemark_backlog_pending_events",
    help: `Events waiting to be processed, for the ${BUSIEST_TENANTS} tenants with the most, and the rest as tenant="${OTHER_TENANTS}".`,
    labelNames: ["tenant"] as const,
    registers: [metrics.registry],
    async collect() {
      this.reset();
      for (const row of await rows()) this.set({ tenant: row.tenant }, row.pending);
    },
  });
  new Gauge({
    name: "tidemark_backlog_oldest_pending_age_seconds",
    help: `Age of the oldest waiting event, for the same tenants (absent when nothing waits).`,
    labelNames: ["tenant"] as const,
    registers: [metrics.registry],
    async collect() {
      this.reset();
      for (const row of await rows()) if (row.oldestPendingAgeMs !== null) this.set({ tenant: row.tenant }, row.oldestPendingAgeMs / 1000);
    },
  });
}
