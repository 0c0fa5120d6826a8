/**
 * Which tenants need attention first, over any number of them: the order the
 * overview and the admin tenant list page through. For every candidate tenant
 * it reads only what the order needs (the backlog from the inbox's partial
 * indexes, the last hour's minute rollups in one grouped statement), judges
 * health with the overview's own rule (judgeHealth), and sorts by
 * ATTENTION_KEYS, most urgent first, then by slug, so that equal tenants keep
 * a stable order across pages.
 *
 * Extending the order: a per-tenant count read from elsewhere (firing alerts:
 * server/tenants/visibility.ts passes them) is a CountedKey ({ name, read }),
 * read for the same candidates and ranked before the built-in keys, in the
 * order given. The stats do not import their readers.
 */
import { pool, sql } from "../db.ts";
import { getBacklogs } from "./backlog.ts";
import { judgeHealth, lastHourFrom, type HealthVerdict } from "./overview.ts";
import { processedSql } from "./rollups.ts";

export interface AttentionFigures {
  tenantId: number;
  slug: string;
  health: HealthVerdict;
  oldestPendingAgeMs: number | null;
  /** Deliveries refused at the edge (rate limit or daily quota, 429) as a share of refused + stored in the last hour, 0–1. */
  refusedShare: number;
  /** The counted keys' counts, by key name (0 where a source has none for the tenant). */
  counts: Record<string, number>;
}

/** A per-tenant count from outside the stats (e.g. firing alerts); a larger count is more urgent. */
export interface CountedKey {
  name: string;
  read(tenantIds: number[]): Promise<Map<number, number>>;
}

export interface AttentionKey {
  name: string;
  /** Larger is more urgent. */
  urgency(figures: AttentionFigures): number;
}

const HEALTH_URGENCY: Record<HealthVerdict, number> = { bad: 3, warn: 2, ok: 1, idle: 0 };

const BUILT_IN_KEYS: AttentionKey[] = [
  { name: "health", urgency: (f) => HEALTH_URGENCY[f.health] },
  { name: "oldest backlog age", urgency: (f) => f.oldestPendingAgeMs ?? -1 },
  { name: "refused share", urgency: (f) => f.refusedShare },
];

/** The order's keys, most significant first: the counted keys, then the built-in ones. */
export function attentionKeys(counted: readonly CountedKey[] = []): AttentionKey[] {
  return [...counted.map((key): AttentionKey => ({ name: key.name, urgency: (f) => f.counts[key.name] ?? 0 })), ...BUILT_IN_KEYS];
}

export function compareAttention(a: AttentionFigures, b: AttentionFigures, keys: readonly AttentionKey[] = attentionKeys()): number {
  for (const key of keys) {
    const difference = key.urgency(b) - key.urgency(a);
    if (difference !== 0) return difference;
  }
  return a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0;
}

const LAST_HOUR = `
SELECT tenant_id, sum(${processedSql()})::float8 AS processed, sum(rate_limited)::float8 AS rate_limited,
       sum(received_created + received_updated + received_deleted)::float8 AS received
  FROM rollup_counts
 WHERE tenant_id = ANY($1::int[]) AND resolution = 60 AND bucket >= $2
 GROUP BY tenant_id`;

/** The candidates (id and slug), most urgent first; `counted` ranks before the built-in keys. */
export async function rankByAttention(candidates: readonly { id: number; slug: string }[], counted: readonly CountedKey[] = []): Promise<AttentionFigures[]> {
  if (candidates.length === 0) return [];
  const ids = candidates.map((tenant) => tenant.id);
  const [backlogs, lastHour, ...countsByKey] = await Promise.all([
    getBacklogs(ids),
    sql<{ tenant_id: number; processed: number; rate_limited: number; received: number }>(pool, LAST_HOUR, [ids, new Date(lastHourFrom(Date.now()))]),
    ...counted.map((key) => key.read(ids)),
  ]);
  const hourOf = new Map(lastHour.map((row) => [row.tenant_id, row]));
  const figures = candidates.map((tenant): AttentionFigures => {
    const backlog = backlogs.get(tenant.id) ?? { pending: 0, processing: 0, dead: 0, oldestPendingAgeMs: null };
    const hour = hourOf.get(tenant.id) ?? { processed: 0, rate_limited: 0, received: 0 };
    const refusedOrStored = hour.rate_limited + hour.received;
    const { health } = judgeHealth({ ...backlog, rateLimitedLastHour: hour.rate_limited, processedLastHour: hour.processed });
    return {
      tenantId: tenant.id,
      slug: tenant.slug,
      health,
      oldestPendingAgeMs: backlog.oldestPendingAgeMs,
      refusedShare: refusedOrStored === 0 ? 0 : hour.rate_limited / refusedOrStored,
      counts: Object.fromEntries(counted.map((key, i) => [key.name, countsByKey[i]?.get(tenant.id) ?? 0])),
    };
  });
  const keys = attentionKeys(counted);
  return figures.sort((a, b) => compareAttention(a, b, keys));
}
