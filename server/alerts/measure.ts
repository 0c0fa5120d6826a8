/**
 * The value of every alert rule, for the evaluator (server/alerts/evaluate.ts).
 *
 * Guarantees: values come from the figures the dashboard already keeps, never
 * from scanning raw events — the per-minute and per-hour rollups
 * (server/stats/rollups.ts), the backlog query that reads one index entry per
 * tenant (server/stats/backlog.ts) and the source rows. A fixed number of
 * statements per round, whatever the number of tenants and rules.
 *
 * - oldest-pending-ms: the backlog's oldest pending age (0 when nothing waits).
 * - dead: the rollups' dead counter summed over the window (a replay takes
 *   its events back out, so replaying the dead clears the alert).
 * - refused-percent: rate_limited (429s, counted in events) as a percentage of
 *   every delivery in the window: events received, refused, redelivered,
 *   conflicting or invalid. 0 without deliveries.
 * - quota-forecast-percent: (events received since 00:00 UTC + those still
 *   pending or in flight + the window's arrival rate × the time left until
 *   00:00 UTC) / the daily quota × 100. 0 for a tenant without a quota.
 * - source-failing-ms: for a source that is not paused and whose last fetch
 *   failed, the time since its last success (or since it was set, if it never
 *   succeeded). 0 otherwise, and without a source.
 *
 * Windows are whole minutes of the rollups: a window of W covers the minute
 * buckets that start at or after the minute now − W falls in (the current,
 * filling minute included).
 */
import { sql, type Queryable } from "../db.ts";
import { getBacklogs } from "../stats/backlog.ts";
import { ROLLUP_COUNTERS } from "../stats/rollups.ts";
import type { AlertRuleName } from "../schemas/alert.ts";

export interface MeasuredRule {
  tenantId: number;
  rule: AlertRuleName;
  windowMs: number | null;
}

const RECEIVED_SQL = [ROLLUP_COUNTERS.receivedCreated, ROLLUP_COUNTERS.receivedUpdated, ROLLUP_COUNTERS.receivedDeleted].map((c) => `c.${c}`).join(" + ");
const DELIVERIES_SQL = `${RECEIVED_SQL} + c.${ROLLUP_COUNTERS.rateLimited} + c.${ROLLUP_COUNTERS.redelivered} + c.${ROLLUP_COUNTERS.conflicts} + c.${ROLLUP_COUNTERS.invalid}`;

/** Per (tenant, window): dead, refused and delivered events and received events in the window. */
const WINDOW_SUMS = `
SELECT w.tenant_id, w.window_ms,
       coalesce(sum(c.${ROLLUP_COUNTERS.dead}), 0)::float8 AS dead,
       coalesce(sum(c.${ROLLUP_COUNTERS.rateLimited}), 0)::float8 AS refused,
       coalesce(sum(${DELIVERIES_SQL}), 0)::float8 AS deliveries,
       coalesce(sum(${RECEIVED_SQL}), 0)::float8 AS received,
       -- The window actually covered, from the first bucket's start to now (for rates).
       (extract(epoch FROM now() - date_trunc('minute', now() - w.window_ms * interval '1 millisecond')) * 1000)::float8 AS covered_ms
  FROM unnest($1::int[], $2::int[]) AS w (tenant_id, window_ms)
  LEFT JOIN rollup_counts c
    ON c.tenant_id = w.tenant_id AND c.resolution = 60
   AND c.bucket >= date_trunc('minute', now() - w.window_ms * interval '1 millisecond')
 GROUP BY w.tenant_id, w.window_ms`;

/** Per tenant with a daily quota: the quota, events received today (hourly rollups) and ms left until 00:00 UTC. */
const QUOTA_DAY = `
SELECT t.id AS tenant_id, t.daily_quota::float8 AS daily_quota,
       coalesce((SELECT sum(${RECEIVED_SQL}) FROM rollup_counts c
                  WHERE c.tenant_id = t.id AND c.resolution = 3600
                    AND c.bucket >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'), 0)::float8 AS received_today,
       (extract(epoch FROM (date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC' - now()) * 1000)::float8 AS ms_left
  FROM tenants t
 WHERE t.id = ANY($1::int[]) AND t.daily_quota IS NOT NULL`;

const SOURCE_FAILING = `
SELECT tenant_id,
       CASE WHEN consecutive_failures > 0 AND NOT paused
            THEN greatest(0, extract(epoch FROM now() - coalesce(last_success_at, created_at)) * 1000) ELSE 0 END::float8 AS failing_ms
  FROM sources
 WHERE tenant_id = ANY($1::int[])`;

/** The map key of a rule's value. */
export const ruleKey = (tenantId: number, rule: string) => `${tenantId}:${rule}`;

/** The value of each rule, by `${tenantId}:${rule}`. */
export async function measureRules(on: Queryable, rules: readonly MeasuredRule[]): Promise<Map<string, number>> {
  const values = new Map<string, number>();
  if (rules.length === 0) return values;
  const tenantsOf = (...names: AlertRuleName[]) => [...new Set(rules.filter((r) => names.includes(r.rule)).map((r) => r.tenantId))];

  const backlogTenants = tenantsOf("oldest-pending-ms", "quota-forecast-percent");
  const backlogs = await getBacklogs(backlogTenants, on);

  const windowed = rules.filter((r) => r.windowMs !== null);
  const windowKeys = [...new Map(windowed.map((r) => [`${r.tenantId}:${r.windowMs}`, r])).values()];
  const sums = new Map<string, { dead: number; refused: number; deliveries: number; received: number; covered_ms: number }>();
  if (windowKeys.length > 0) {
    const rows = await sql<{ tenant_id: number; window_ms: number; dead: number; refused: number; deliveries: number; received: number; covered_ms: number }>(
      on,
      WINDOW_SUMS,
      [windowKeys.map((r) => r.tenantId), windowKeys.map((r) => r.windowMs)],
    );
    for (const row of rows) sums.set(`${row.tenant_id}:${row.window_ms}`, row);
  }

  const quotaTenants = tenantsOf("quota-forecast-percent");
  const quotas = new Map(
    quotaTenants.length === 0
      ? []
      : (await sql<{ tenant_id: number; daily_quota: number; received_today: number; ms_left: number }>(on, QUOTA_DAY, [quotaTenants])).map((row) => [
          row.tenant_id,
          row,
        ]),
  );

  const sourceTenants = tenantsOf("source-failing-ms");
  const failing = new Map(
    sourceTenants.length === 0
      ? []
      : (await sql<{ tenant_id: number; failing_ms: number }>(on, SOURCE_FAILING, [sourceTenants])).map((row) => [row.tenant_id, row.failing_ms]),
  );

  for (const { tenantId, rule, windowMs } of rules) {
    const window = sums.get(`${tenantId}:${windowMs}`);
    const backlog = backlogs.get(tenantId);
    let value = 0;
    switch (rule) {
      case "oldest-pending-ms":
        value = backlog?.oldestPendingAgeMs ?? 0;
        break;
      case "dead":
        value = Math.max(0, window?.dead ?? 0);
        break;
      case "refused-percent":
        value = window && window.deliveries > 0 ? (100 * window.refused) / window.deliveries : 0;
        break;
      case "quota-forecast-percent": {
        const quota = quotas.get(tenantId);
        if (!quota || !window) break;
        const inFlight = (backlog?.pending ?? 0) + (backlog?.processing ?? 0);
        const ratePerMs = window.covered_ms > 0 ? window.received / window.covered_ms : 0;
        value = (100 * (quota.received_today + inFlight + ratePerMs * quota.ms_left)) / quota.daily_quota;
        break;
      }
      case "source-failing-ms":
        value = failing.get(tenantId) ?? 0;
        break;
    }
    values.set(ruleKey(tenantId, rule), value);
  }
  return values;
}
