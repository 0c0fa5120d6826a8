/**
 * The shared store: the process's one Redis client behind a small interface,
 * or, when REDIS_URL is unset, an in-process implementation of the same
 * interface (correct for a single process only).
 *
 * Guarantee of takeTokens: the daily-quota check, the token-bucket refill and
 * the debit happen atomically (one Lua script, one round trip, Redis's own
 * clock), so concurrent requests from any number of processes never spend the
 * same token twice. Given a generation to expect (the tenant cache's, see
 * server/ingest/tenant-lookup.ts), the same script first checks that the key
 * still holds it, and takes nothing if not: the caller's copy of the tenant
 * is stale. The Redis client is set to fail fast when Redis is down
 * (no unbounded offline queue), so callers can fail open.
 */
import { Redis } from "ioredis";
import { type CacheBackend, MemoryCacheBackend, RedisCacheBackend } from "./cache/backend.ts";
import { env, isBuildPhase } from "./env.ts";
import { MS_PER_DAY } from "./keys.ts";
import { log, throttledLogger } from "./log.ts";

export interface TokenRequest {
  bucketKey: string;
  /** Required when dailyQuota is set. */
  quotaKey?: string;
  ratePerSecond: number;
  burst: number;
  /** Events this request would add: 1 for a single event, the count for a batch. */
  cost: number;
  /** Events per UTC day, or null for no daily quota. */
  dailyQuota: number | null;
  /** Decide only if `key` (a cache generation) still holds `expected` ("0" when absent); otherwise take nothing and answer "stale". */
  generation?: { key: string; expected: string };
}

/** "stale" only when a generation was given and no longer holds (retryAfterMs is then 0: nothing was decided). */
export type TokenResult = { allowed: true } | { allowed: false; reason: "rate" | "quota" | "stale"; retryAfterMs: number };

export interface SharedStore {
  readonly kind: "redis" | "memory";
  /** The shared cache's entries, generations and locks (server/cache), on the same client. */
  readonly cache: CacheBackend;
  /**
   * Takes `cost` tokens if the bucket holds min(cost, burst) of them and the
   * daily quota has room; a request larger than the burst may overdraw the
   * bucket, which then refills before anything else passes.
   */
  takeTokens(request: TokenRequest): Promise<TokenResult>;
  ping(): Promise<void>;
  /** Deletes every key under REDIS_KEY_PREFIX (tests use it to leave nothing behind). */
  clearNamespace(): Promise<void>;
  close(): Promise<void>;
}

// Mirrors MemoryStore.takeTokens; the contract test runs both on the same cases.
const TAKE_TOKENS_LUA = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local quota = tonumber(ARGV[4])
if ARGV[5] ~= '' and (redis.call('GET', KEYS[3]) or '0') ~= ARGV[5] then
  return {0, 0, 3}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if quota >= 0 then
  local used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used + cost > quota then
    return {0, ${MS_PER_DAY} - (now % ${MS_PER_DAY}), 2}
  end
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local need = math.min(cost, burst)
if tokens < need then
  return {0, math.ceil((need - tokens) * 1000 / rate), 1}
end
tokens = tokens - cost
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 60000)
if quota >= 0 then
  redis.call('INCRBY', KEYS[2], cost)
  redis.call('PEXPIRE', KEYS[2], ${MS_PER_DAY + 3_600_000})
end
return {1, 0, 0}
`;

const storeErrorLog = throttledLogger(10_000);

type RedisWithScripts = Redis & {
  takeTokens(bucketKey: string, quotaKey: string, generationKey: string, ...args: (string | number)[]): Promise<[number, number, number]>;
};

export class RedisStore implements SharedStore {
  readonly kind = "redis" as const;
  readonly cache: CacheBackend;
  private readonly client: RedisWithScripts;

  constructor(url: string) {
    const client = new Redis(url, {
      // Fail fast when Redis is away: the limiter fails open rather than stall ingestion.
      maxRetriesPerRequest: 1,
      connectTimeout: 1_000,
      commandTimeout: 500,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
      // `next build` evaluates this module but must not connect.
      lazyConnect: isBuildPhase,
      // Commands issued in one turn of the event loop (one per concurrent webhook) leave in one write, not a write each.
      enableAutoPipelining: true,
    });
    client.on("error", (error: Error) => storeErrorLog("redis-error", () => log.warn({ module: "redis", err: error.message }, "redis error")));
    client.defineCommand("takeTokens", { numberOfKeys: 3, lua: TAKE_TOKENS_LUA });
    this.client = client as RedisWithScripts;
    this.cache = new RedisCacheBackend(client);
  }

  async takeTokens(request: TokenRequest): Promise<TokenResult> {
    const [allowed, retryAfterMs, reason] = await this.client.takeTokens(
      request.bucketKey,
      // The script declares three keys; without a quota (or a generation) that key is never touched.
      request.quotaKey ?? request.bucketKey,
      request.generation?.key ?? request.bucketKey,
      request.ratePerSecond,
      request.burst,
      request.cost,
      request.dailyQuota ?? -1,
      request.generation?.expected ?? "",
    );
    if (allowed === 1) return { allowed: true };
    if (reason === 3) return { allowed: false, reason: "stale", retryAfterMs: 0 };
    return { allowed: false, reason: reason === 2 ? "quota" : "rate", retryAfterMs };
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async clearNamespace(): Promise<void> {
    let cursor = "0";
    do {
      const [next, found] = await this.client.scan(cursor, "MATCH", `${env.REDIS_KEY_PREFIX}*`, "COUNT", 500);
      if (found.length > 0) await this.client.del(...found);
      cursor = next;
    } while (cursor !== "0");
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}

/** The single-process stand-in. `now` is injectable so tests can move time. */
export class MemoryStore implements SharedStore {
  readonly kind = "memory" as const;
  readonly cache: MemoryCacheBackend;
  private readonly buckets = new Map<string, { tokens: number; ts: number }>();
  private readonly quotas = new Map<string, number>();
  private quotaKeySuffix = "";

  constructor(private readonly now: () => number = Date.now) {
    this.cache = new MemoryCacheBackend(now);
  }

  async takeTokens(request: TokenRequest): Promise<TokenResult> {
    if (request.generation && this.cache.generation(request.generation.key) !== request.generation.expected)
      return { allowed: false, reason: "stale", retryAfterMs: 0 };
    const now = this.now();
    const quotaKey = request.quotaKey ?? request.bucketKey;
    if (request.dailyQuota !== null) {
      const used = this.quotas.get(quotaKey) ?? 0;
      if (used + request.cost > request.dailyQuota) {
        return { allowed: false, reason: "quota", retryAfterMs: MS_PER_DAY - (now % MS_PER_DAY) };
      }
    }
    const state = this.buckets.get(request.bucketKey) ?? { tokens: request.burst, ts: now };
    const tokens = Math.min(request.burst, state.tokens + (Math.max(0, now - state.ts) * request.ratePerSecond) / 1000);
    const need = Math.min(request.cost, request.burst);
    if (tokens < need) {
      return { allowed: false, reason: "rate", retryAfterMs: Math.ceil(((need - tokens) * 1000) / request.ratePerSecond) };
    }
    this.buckets.set(request.bucketKey, { tokens: tokens - request.cost, ts: now });
    if (request.dailyQuota !== null) {
      this.quotas.set(quotaKey, (this.quotas.get(quotaKey) ?? 0) + request.cost);
      this.forgetOtherQuotaDays(quotaKey);
    }
    return { allowed: true };
  }

  /** Quota keys end in the day number: when the day turns, yesterday's counters go. */
  private forgetOtherQuotaDays(currentKey: string): void {
    const suffix = currentKey.slice(currentKey.lastIndexOf(":"));
    if (suffix === this.quotaKeySuffix) return;
    this.quotaKeySuffix = suffix;
    for (const key of this.quotas.keys()) {
      if (!key.endsWith(suffix)) this.quotas.delete(key);
    }
  }

  async ping(): Promise<void> {}

  async clearNamespace(): Promise<void> {
    this.buckets.clear();
    this.quotas.clear();
    this.cache.clear();
  }

  async close(): Promise<void> {
    await this.clearNamespace();
  }
}

const globalForStore = globalThis as unknown as { tidemarkStore?: SharedStore };

export const store: SharedStore = (globalForStore.tidemarkStore ??= env.REDIS_URL ? new RedisStore(env.REDIS_URL) : new MemoryStore());

export async function closeStore(): Promise<void> {
  await store.close();
  globalForStore.tidemarkStore = undefined;
}
