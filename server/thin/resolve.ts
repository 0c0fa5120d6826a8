/**
 * Thin events resolved into full ones: each thin `item.created` /
 * `item.updated` gets the state its tenant's item API answers, fetched
 * through the shared cache (cache `item`, keyed by tenant and item id), so
 * it can then be applied as any full event is.
 *
 * Guarantees (docs/design.md, "Thin events"):
 * - A cached state whose version is below an event's is never used for it
 *   (the read's `accept`), and a fetched state below the event's version is
 *   not applied: that event fails (`behind`) and is retried later.
 * - The events of one item in one call cost one cache read; across calls
 *   and processes the cache runs one fetch per item at a time, so a burst of
 *   thin events for a hot item costs one fetch.
 * - 404 means the item is gone: the event becomes a delete at its own
 *   version. The "gone" answer is cached at the version it was fetched for.
 * - A failed fetch fails every event that needed it, with the reason; a
 *   tenant without an item API fails its thin events the same way (an admin
 *   may set one, and the retries or a replay then apply them). Nothing here
 *   writes to the database: the caller records failures and applies the rest.
 * - Fetches run in parallel, at most `concurrency` at a time, and never
 *   inside a transaction.
 * - The item URL and the token are read afresh for each call (nothing
 *   cached), the token through source-token.ts, its only reader.
 */
import { Cache } from "../cache/cache.ts";
import { isThin, ZEventBody, type TEventBody } from "../core/event.ts";
import { env } from "../env.ts";
import { keys } from "../keys.ts";
import { metrics } from "../metrics.ts";
import { readSourceToken } from "../collector/source-token.ts";
import { pool, sql, statement } from "../db.ts";
import { fetchItem, ItemFetchFailure, type ItemApi } from "./item-api.ts";
import { resolvedBody, type CachedItem, type ThinToResolve } from "./resolved-body.ts";

export type { CachedItem };

/** The rule `accept` applies: a cached answer serves an event only if it is at least as new. */
export function servesVersion(cached: CachedItem, version: number): boolean {
  return cached.version >= version;
}

const itemCache = new Cache<CachedItem>("item", {
  ttlMs: env.ITEM_CACHE_TTL_MS,
  // A loader holds the key for longer than any fetch can take, and the others wait out a whole fetch
  // rather than starting their own: one fetch per item at a time, even from a slow API.
  lockMs: env.ITEM_FETCH_TIMEOUT_MS + 5_000,
  waitMs: env.ITEM_FETCH_TIMEOUT_MS + 1_000,
});

/** A stored event as the worker holds it. */
export interface StoredEvent {
  /** The inbox row id. */
  id: number;
  tenantId: number;
  eventId: string;
  payload: unknown;
}

export interface Resolution {
  /** By inbox row id: the full body to apply in place of the stored thin one. */
  payloads: Map<number, TEventBody>;
  /** By inbox row id: why the event could not be resolved now (to retry it after a backoff). */
  failures: Map<number, string>;
}

export interface ResolveOptions {
  /** Most fetches in flight at once for one call. */
  concurrency?: number;
  timeoutMs?: number;
  /** The cache's accept rule; only tests pass anything else (to show that a test fails without it). */
  accept?: (cached: CachedItem, version: number) => boolean;
}

export const DEFAULT_FETCH_CONCURRENCY = 8;

interface ThinEvent extends ThinToResolve {
  id: number;
}

interface ItemGroup {
  tenantId: number;
  itemId: string;
  /** The highest version among the group's events: one answer at least this new serves them all. */
  version: number;
  events: ThinEvent[];
}

const ITEM_URLS = statement("item_urls", "SELECT tenant_id, item_url FROM sources WHERE tenant_id = ANY($1::int[]) AND item_url IS NOT NULL");

/** The item API of each of `tenantIds` that has one (a source with an item URL). */
export async function readItemApis(tenantIds: readonly number[]): Promise<Map<number, ItemApi>> {
  const rows = await sql<{ tenant_id: number; item_url: string }>(pool, ITEM_URLS, [[...tenantIds]]);
  const apis = new Map<number, ItemApi>();
  for (const row of rows) apis.set(row.tenant_id, { itemUrl: row.item_url, token: await readSourceToken(pool, row.tenant_id) });
  return apis;
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

async function load(api: ItemApi, group: ItemGroup, timeoutMs: number): Promise<CachedItem> {
  try {
    const answer = await fetchItem({ ...api, itemId: group.itemId, timeoutMs });
    metrics.itemFetches.inc({ result: !answer.found ? "not_found" : answer.state.version < group.version ? "behind" : "ok" });
    return answer.found ? { version: answer.state.version, state: answer.state } : { version: group.version, state: null };
  } catch (error) {
    metrics.itemFetches.inc({ result: error instanceof ItemFetchFailure ? error.kind : "network" });
    throw error;
  }
}

/** Resolves the thin events among `events` (the others are left out of both maps). */
export async function resolveThinEvents(events: readonly StoredEvent[], options: ResolveOptions = {}): Promise<Resolution> {
  const accept = options.accept ?? servesVersion;
  const timeoutMs = options.timeoutMs ?? env.ITEM_FETCH_TIMEOUT_MS;
  const payloads = new Map<number, TEventBody>();
  const failures = new Map<number, string>();

  const groups = new Map<string, ItemGroup>();
  for (const event of events) {
    const parsed = ZEventBody.safeParse(event.payload);
    // An invalid payload is left to apply, which records it as rejected.
    if (!parsed.success || !isThin(parsed.data) || parsed.data.type === "item.deleted") continue;
    const body = parsed.data;
    const id = keys.itemCacheId(event.tenantId, body.data.id);
    const group = groups.get(id) ?? { tenantId: event.tenantId, itemId: body.data.id, version: 0, events: [] };
    group.version = Math.max(group.version, body.data.version);
    group.events.push({ id: event.id, version: body.data.version, body });
    groups.set(id, group);
  }
  if (groups.size === 0) return { payloads, failures };

  const apis = await readItemApis([...new Set([...groups.values()].map((group) => group.tenantId))]);
  await eachLimited([...groups.entries()], options.concurrency ?? DEFAULT_FETCH_CONCURRENCY, async ([id, group]) => {
    const api = apis.get(group.tenantId);
    if (!api) {
      metrics.itemFetches.inc({ result: "no_item_api" });
      for (const event of group.events) failures.set(event.id, "thin event, but the tenant has no item API: set one with `source set --item-url`");
      return;
    }
    let answer: CachedItem;
    try {
      answer = await itemCache.getOrLoad(id, () => load(api, group, timeoutMs), { accept: (cached) => accept(cached, group.version) });
    } catch (error) {
      const message = `thin event: ${(error as Error).message}`;
      for (const event of group.events) failures.set(event.id, message);
      return;
    }
    for (const event of group.events) {
      const body = resolvedBody(event, answer);
      if (body) payloads.set(event.id, body);
      else failures.set(event.id, `thin event: the item API answered version ${answer.version}, older than the event's ${event.version}`);
    }
  });
  return { payloads, failures };
}
