/**
 * Helpers for pull-mode tests: collector settings fast enough for tests, a
 * tenant with a source pointed at a simulated upstream, what the upstream
 * served (the model's input), and the source's row as it is.
 */
import { pool } from "../server/db.ts";
import type { CollectorOptions } from "../server/collector/collector.ts";
import { setSource } from "../server/collector/sources.ts";
import { eventsBetween, toBody, type FeedSpec } from "../server/sim/feed.ts";
import type { TestEvent } from "./events.ts";
import { createTestTenant } from "./webhooks.ts";

export const TEST_COLLECTOR: CollectorOptions = {
  concurrency: 1,
  fetchTimeoutMs: 2_000,
  leaseMs: 5_000,
  maxPageBytes: 1024 * 1024,
  pagesPerTurn: 5,
  pollMs: 20,
  backoffBaseMs: 50,
  backoffCapMs: 400,
};

/** A new tenant whose source is `url`; quotas generous enough that tests are never rate-limited unless they ask. */
export async function tenantWithSource(
  url: string,
  source: { pageSize?: number; intervalMs?: number; token?: string } = {},
  quotas: { dailyQuota?: number | null } = {},
) {
  const tenant = await createTestTenant({ ratePerSecond: 1_000_000, burst: 10_000_000, ...quotas });
  await setSource(tenant, { url, pageSize: source.pageSize ?? 50, intervalMs: source.intervalMs ?? 100, token: source.token });
  return tenant;
}

/** Every event a fixed feed serves, in order (repeats included), as the model takes them. */
export function feedEvents(spec: Extract<FeedSpec, { kind: "fixed" }>): TestEvent[] {
  return eventsBetween(spec, 0, spec.total).map((event) => ({ eventId: event.id, body: toBody(event) }));
}

export interface SourceRow {
  cursor: string | null;
  cursor_version: number;
  pages_committed: number;
  events_stored: number;
  events_invalid: number;
  consecutive_failures: number;
  last_error: string | null;
  has_more: boolean;
  waiting_for: string | null;
  lease_owner: string | null;
  lease_until: Date | null;
  lease_token: number;
  next_fetch_at: Date;
  last_success_at: Date | null;
}

export async function sourceRow(tenantId: number): Promise<SourceRow> {
  const { rows } = await pool.query<SourceRow>(
    `SELECT cursor, cursor_version, pages_committed, events_stored, events_invalid, consecutive_failures, last_error, has_more,
            waiting_for, lease_owner, lease_until, lease_token, next_fetch_at, last_success_at
       FROM sources WHERE tenant_id = $1`,
    [tenantId],
  );
  if (!rows[0]) throw new Error(`tenant ${tenantId} has no source`);
  return rows[0];
}

/** The tenant's stored event ids, with how often each is stored (always once, or the unique key is gone). */
export async function storedEventIds(tenantId: number): Promise<string[]> {
  const { rows } = await pool.query<{ event_id: string }>("SELECT event_id FROM events WHERE tenant_id = $1 ORDER BY event_id", [tenantId]);
  return rows.map((row) => row.event_id);
}

/** The distinct ids of `events`, sorted as the database sorts them (COLLATE "C"). */
export function distinctIds(events: readonly TestEvent[]): string[] {
  return [...new Set(events.map((event) => event.eventId))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
