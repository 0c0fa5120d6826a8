/**
 * Every Redis key Tidemark uses is built here, under REDIS_KEY_PREFIX, so the
 * key space is visible in one place and tests can run in a namespace of their own.
 */
import { env } from "./env.ts";

const prefix = env.REDIS_KEY_PREFIX;

export const keys = {
  /** A tenant's token bucket: hash {tokens, ts}. */
  rateBucket: (tenantId: number) => `${prefix}rate:${tenantId}`,
  /** A tenant's accepted-event count for one UTC day (days since the epoch). */
  dailyQuota: (tenantId: number, utcDay: number) => `${prefix}quota:${tenantId}:${utcDay}`,
  /** Sign-in attempts from one client address. */
  signInByIp: (ip: string) => `${prefix}signin:ip:${ip}`,
  /** Sign-in attempts against one account (lower-cased email), from anywhere: the slow-down's bucket. */
  signInByAccount: (email: string) => `${prefix}signin:account:${email}`,
  /** Password guesses against one account from one client address: the bucket that refuses. */
  signInByAccountAndIp: (email: string, ip: string) => `${prefix}signin:account-ip:${ip}:${email}`,
  /** A shared-cache entry (server/cache): JSON {v, x, l}. `id` is the cached thing's own id, any string. */
  cacheEntry: (cache: string, id: string) => `${prefix}cache:${cache}:entry:${id}`,
  /** How often a cache entry was invalidated: a load writes only if it is unchanged since before the load. */
  cacheGeneration: (cache: string, id: string) => `${prefix}cache:${cache}:gen:${id}`,
  /** The one loader's lock on a cache entry: its token, with an expiry. */
  cacheLock: (cache: string, id: string) => `${prefix}cache:${cache}:lock:${id}`,
  /**
   * The item cache's id for one tenant's item (thin events; under cacheEntry etc. as the `item`
   * cache). The tenant id leads and has no colon, so no two (tenant, item id) pairs share an id.
   */
  itemCacheId: (tenantId: number, itemId: string) => `${tenantId}:${itemId}`,
} as const;

export const MS_PER_DAY = 86_400_000;

export function utcDay(nowMs: number): number {
  return Math.floor(nowMs / MS_PER_DAY);
}
