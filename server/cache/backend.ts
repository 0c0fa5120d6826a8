/**
 * Where the shared cache keeps its entries: Redis (shared by every process),
 * or an in-process stand-in with the same behaviour when REDIS_URL is unset
 * (correct for a single process only). The cache logic (cache.ts) is written
 * once against this interface.
 *
 * Guarantees of both:
 * - `read` returns an entry and its key's generation from one moment (one
 *   MGET), so a loader can later prove nothing was invalidated since.
 * - `writeIfGeneration` writes only while the generation is still the one
 *   read (one Lua script: compare and set are one step), so a load that raced
 *   an invalidation can never put the old value back.
 * - `invalidate` bumps the generation and replaces the entry (deleted, or a
 *   tombstone value) in one step (MULTI).
 * - Locks are tokens with an expiry (SET NX PX); only the holder's token can
 *   release one, so a loader that outlived its lock cannot free another's.
 */
import type { Redis } from "ioredis";

export interface CacheRead {
  /** The entry's JSON, or null when there is none. */
  entry: string | null;
  /** The key's generation ("0" when it was never invalidated). */
  generation: string;
}

export interface CacheBackend {
  read(entryKey: string, generationKey: string): Promise<CacheRead>;
  writeIfGeneration(entryKey: string, generationKey: string, generation: string, entry: string, ttlMs: number): Promise<boolean>;
  invalidate(entryKey: string, generationKey: string, tombstone: { entry: string; ttlMs: number } | null): Promise<void>;
  lock(lockKey: string, token: string, ttlMs: number): Promise<boolean>;
  unlock(lockKey: string, token: string): Promise<void>;
}

// KEYS: entry, generation. ARGV: expected generation, entry, ttl ms.
const WRITE_IF_GENERATION_LUA = `
local current = redis.call('GET', KEYS[2]) or '0'
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

// KEYS: lock. ARGV: token.
const UNLOCK_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Generations outlive any entry by far; they expire so that dead keys do not accumulate forever. */
const GENERATION_TTL_MS = 7 * 24 * 3_600_000;

type CacheRedis = Redis & {
  tidemarkCacheWrite(entryKey: string, generationKey: string, generation: string, entry: string, ttlMs: number): Promise<number>;
  tidemarkCacheUnlock(lockKey: string, token: string): Promise<number>;
};

export class RedisCacheBackend implements CacheBackend {
  private readonly redis: CacheRedis;

  /** Takes the process's one client (server/redis.ts); it constructs none of its own. */
  constructor(client: Redis) {
    client.defineCommand("tidemarkCacheWrite", { numberOfKeys: 2, lua: WRITE_IF_GENERATION_LUA });
    client.defineCommand("tidemarkCacheUnlock", { numberOfKeys: 1, lua: UNLOCK_LUA });
    this.redis = client as CacheRedis;
  }

  async read(entryKey: string, generationKey: string): Promise<CacheRead> {
    const [entry, generation] = await this.redis.mget(entryKey, generationKey);
    return { entry: entry ?? null, generation: generation ?? "0" };
  }

  async writeIfGeneration(entryKey: string, generationKey: string, generation: string, entry: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.tidemarkCacheWrite(entryKey, generationKey, generation, entry, Math.max(1, Math.ceil(ttlMs)))) === 1;
  }

  async invalidate(entryKey: string, generationKey: string, tombstone: { entry: string; ttlMs: number } | null): Promise<void> {
    const multi = this.redis.multi().incr(generationKey).pexpire(generationKey, GENERATION_TTL_MS);
    if (tombstone) multi.set(entryKey, tombstone.entry, "PX", Math.max(1, Math.ceil(tombstone.ttlMs)));
    else multi.del(entryKey);
    const results = await multi.exec();
    const failed = results?.find(([error]) => error !== null);
    if (!results || failed) throw failed?.[0] ?? new Error("cache invalidation was not executed");
  }

  async lock(lockKey: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(lockKey, token, "PX", Math.max(1, Math.ceil(ttlMs)), "NX")) === "OK";
  }

  async unlock(lockKey: string, token: string): Promise<void> {
    await this.redis.tidemarkCacheUnlock(lockKey, token);
  }
}

const SWEEP_EVERY_WRITES = 1_000;

interface Expiring {
  value: string;
  expiresAt: number;
}

/** The single-process stand-in. `now` is injectable so tests can move time. */
export class MemoryCacheBackend implements CacheBackend {
  private readonly values = new Map<string, Expiring>();
  private writes = 0;

  constructor(private readonly now: () => number = Date.now) {}

  private get(key: string): string | null {
    const found = this.values.get(key);
    if (!found) return null;
    if (found.expiresAt <= this.now()) {
      this.values.delete(key);
      return null;
    }
    return found.value;
  }

  private set(key: string, value: string, ttlMs: number): void {
    this.values.set(key, { value, expiresAt: this.now() + ttlMs });
    // Entries nobody reads again would stay forever; every so many writes the expired ones go.
    if (++this.writes % SWEEP_EVERY_WRITES === 0) this.sweep();
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, { expiresAt }] of this.values) if (expiresAt <= now) this.values.delete(key);
  }

  async read(entryKey: string, generationKey: string): Promise<CacheRead> {
    return { entry: this.get(entryKey), generation: this.generation(generationKey) };
  }

  /** A generation key's value, "0" when absent (for MemoryStore's takeTokens, which checks it as the Lua script does). */
  generation(generationKey: string): string {
    return this.get(generationKey) ?? "0";
  }

  async writeIfGeneration(entryKey: string, generationKey: string, generation: string, entry: string, ttlMs: number): Promise<boolean> {
    if ((this.get(generationKey) ?? "0") !== generation) return false;
    this.set(entryKey, entry, ttlMs);
    return true;
  }

  async invalidate(entryKey: string, generationKey: string, tombstone: { entry: string; ttlMs: number } | null): Promise<void> {
    this.set(generationKey, String(Number(this.get(generationKey) ?? "0") + 1), GENERATION_TTL_MS);
    if (tombstone) this.set(entryKey, tombstone.entry, tombstone.ttlMs);
    else this.values.delete(entryKey);
  }

  async lock(lockKey: string, token: string, ttlMs: number): Promise<boolean> {
    if (this.get(lockKey) !== null) return false;
    this.set(lockKey, token, ttlMs);
    return true;
  }

  async unlock(lockKey: string, token: string): Promise<void> {
    if (this.get(lockKey) === token) this.values.delete(lockKey);
  }

  clear(): void {
    this.values.clear();
  }

  /** Entries held, for tests that bound memory. */
  get size(): number {
    return this.values.size;
  }
}
