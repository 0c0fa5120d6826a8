/**
 * The shared cache: getOrLoad over Redis (or the in-process stand-in), built
 * so that it cannot stampede and cannot serve what a commit replaced.
 *
 * Guarantees (docs/design.md, "Caching"):
 * - Keys written together do not expire together: each write's freshness is
 *   the TTL shortened at random by up to `jitter` (injected random source).
 * - Hot keys refresh early, before they expire (XFetch: a read refreshes when
 *   now − Δ·β·ln(rand) ≥ expiry, Δ the load time measured when the entry was
 *   written), in the background, so readers keep getting the cached value.
 *   Never earlier than half the shortest life an entry gets, so a slow or
 *   stalled load cannot make a key reload again right after each write.
 * - One loader per key at a time across all processes: a loader holds the
 *   key's lock (a token with an expiry, freed only by its holder). Others
 *   serve the expired value they have (for up to `staleMs` past expiry), or
 *   wait up to `waitMs` for the loader's result, and only then load
 *   themselves. Inside one process, concurrent reads of a key share one
 *   lookup (single flight).
 * - A loader that fails does not poison the key: nothing is written, the lock
 *   is freed, the next read loads again (a stale value, if there was one, is
 *   served instead of the error).
 * - invalidate(), called after the commit that changed the data, bumps the
 *   key's generation and drops the entry (or writes a tombstone, for a
 *   delete) in one step; a load writes only if the generation is still the
 *   one it read before loading. So a load that read the old data before the
 *   commit can never put it back after the invalidation
 *   (cache.integration.test.ts interleaves the two).
 * - Redis down: reads go straight to the loader, counted as `bypass`;
 *   nothing fails because of the cache.
 * Every read is counted in tidemark_cache_requests_total{cache,result}
 * (hit, miss, stale, bypass), every load in tidemark_cache_loads_total.
 */
import { randomBytes } from "node:crypto";
import { keys } from "../keys.ts";
import { jitterDown } from "../lib/jitter.ts";
import type { Random } from "../lib/random.ts";
import { log, throttledLogger } from "../log.ts";
import { metrics } from "../metrics.ts";
import { store } from "../redis.ts";
import type { CacheBackend } from "./backend.ts";

export interface CacheSettings {
  /** How long a written entry is fresh, before jitter. */
  ttlMs: number;
  /** The fraction of the TTL taken off at random on each write: fresh for [ttl·(1−jitter), ttl]. */
  jitter: number;
  /** XFetch's β: 1 is the paper's choice, larger refreshes earlier, 0 never early. */
  beta: number;
  /** How long past its expiry an entry may still be served while one caller reloads it. */
  staleMs: number;
  /** How long a loader holds a key's lock; a load should finish well within it. */
  lockMs: number;
  /** How long a caller with nothing to serve waits for another process's load before loading itself. */
  waitMs: number;
  /** The pause between looks while waiting. */
  pollMs: number;
}

export const DEFAULT_CACHE_SETTINGS: Omit<CacheSettings, "ttlMs"> = {
  jitter: 0.2,
  beta: 1,
  staleMs: 30_000,
  lockMs: 10_000,
  waitMs: 1_000,
  pollMs: 20,
};

export interface CacheDependencies {
  backend: CacheBackend;
  random: Random;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

/** How a value travels through JSON: the identity for plain data, a conversion for Dates and the like. */
export interface CacheCodec<T> {
  encode(value: T): unknown;
  decode(json: unknown): T;
}

type Result = "hit" | "miss" | "stale" | "bypass";

export interface ReadOptions<T> {
  /** Whether a cached value will do for this read; one that will not is treated as absent. */
  accept?: (value: T) => boolean;
  /** The random source for this read's jitter and early-refresh draw (tests pin it). */
  random?: Random;
}

interface Entry {
  /** The encoded value. */
  v: unknown;
  /** Fresh until (epoch ms). */
  x: number;
  /** How long the load that wrote it took (ms): XFetch's Δ. */
  l: number;
}

class BackendUnavailable extends Error {
  override name = "BackendUnavailable";
}

const logBackend = throttledLogger(10_000);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const identity: CacheCodec<never> = { encode: (value) => value, decode: (json) => json as never };

function parseEntry(json: string | null): Entry | null {
  if (json === null) return null;
  try {
    const entry = JSON.parse(json) as Partial<Entry>;
    return typeof entry.x === "number" && typeof entry.l === "number" && "v" in entry ? (entry as Entry) : null;
  } catch {
    // A value this code did not write is treated as absent, and overwritten by the next load.
    return null;
  }
}

/**
 * XFetch (Vattani, Chierichetti, Lowenstein, "Optimal Probabilistic Cache
 * Stampede Prevention", VLDB 2015): refresh when now − Δ·β·ln(rand) ≥ expiry.
 * −ln(rand) is exponentially distributed, so the chance grows smoothly as
 * expiry nears, and sooner for values that take longer (Δ) to load.
 */
export function refreshesEarly(now: number, expiresAt: number, loadMs: number, beta: number, rand: number, maxEarlyMs = Infinity): boolean {
  if (beta <= 0) return false;
  // rand = 0 would make −ln(rand) infinite, i.e. refresh now: harmless, and kept finite here.
  const early = Math.min(-loadMs * beta * Math.log(rand || Number.MIN_VALUE), maxEarlyMs);
  return now + early >= expiresAt;
}

/**
 * How early a refresh may come, at most: half the shortest life an entry can
 * be given. Δ is a measured wall time, and a stalled process measures a long
 * one; uncapped, a Δ near the TTL would refresh a key again right after each
 * write. Capped, a key is loaded at most about twice per TTL whatever Δ is.
 */
export function maxEarlyRefreshMs(settings: Pick<CacheSettings, "ttlMs" | "jitter">): number {
  return (settings.ttlMs * (1 - settings.jitter)) / 2;
}

export class Cache<T> {
  private readonly settings: CacheSettings;
  private readonly deps: CacheDependencies;
  private readonly codec: CacheCodec<T>;
  /** Reads of a key in progress in this process (single flight). */
  private readonly flights = new Map<string, Promise<T>>();
  /** Keys this process is refreshing early, so one process starts one refresh. */
  private readonly refreshing = new Set<string>();

  constructor(
    /** The cache's name in keys and metrics: "tenant", "item", "series", … */
    readonly name: string,
    settings: Partial<CacheSettings> & Pick<CacheSettings, "ttlMs">,
    options: { codec?: CacheCodec<T>; dependencies?: Partial<CacheDependencies> } = {},
  ) {
    this.settings = { ...DEFAULT_CACHE_SETTINGS, ...settings };
    this.codec = options.codec ?? (identity as CacheCodec<T>);
    // The clock is read through Date at each call, so a test's fake clock is the cache's too.
    this.deps = { backend: store.cache, random: Math.random, now: () => Date.now(), sleep, ...options.dependencies };
  }

  /**
   * The value of `id`: cached, or loaded by `loader` (at most one loader per
   * key at a time across processes). `options.accept` says whether a cached
   * value will do for this caller (e.g. "its version is at least the
   * event's"); one that will not is treated as absent.
   */
  async getOrLoad(id: string, loader: () => Promise<T>, options: ReadOptions<T> = {}): Promise<T> {
    const accept = options.accept ?? (() => true);
    const shared = this.flights.get(id);
    if (shared) {
      const value = await shared;
      if (accept(value)) {
        this.count("hit");
        return value;
      }
    }
    const own = this.resolve(id, loader, accept, options.random ?? this.deps.random);
    if (!shared) {
      this.flights.set(id, own);
      const done = () => {
        if (this.flights.get(id) === own) this.flights.delete(id);
      };
      own.then(done, done);
    }
    return own;
  }

  /**
   * Call after the commit that changed `id`'s data: the next read in any
   * process loads afresh (or finds `tombstone`, the value that stands for a
   * deleted thing). Never throws: a failure is logged and counted, and the
   * entry then lives out its TTL.
   */
  async invalidate(id: string, tombstone?: T): Promise<boolean> {
    this.flights.delete(id);
    const k = this.keysOf(id);
    const ttl = jitterDown(this.settings.ttlMs, this.settings.jitter, this.deps.random);
    const written = tombstone === undefined ? null : { entry: this.encode(tombstone, ttl, 0), ttlMs: ttl + this.settings.staleMs };
    try {
      await this.deps.backend.invalidate(k.entry, k.generation, written);
      return true;
    } catch (error) {
      metrics.cacheInvalidationFailures.inc({ cache: this.name });
      log.error({ module: "cache", cache: this.name, err: (error as Error).message }, "could not invalidate a cache entry; it expires with its TTL");
      return false;
    }
  }

  private keysOf(id: string) {
    return { entry: keys.cacheEntry(this.name, id), generation: keys.cacheGeneration(this.name, id), lock: keys.cacheLock(this.name, id) };
  }

  private count(result: Result): void {
    metrics.cacheRequests.inc({ cache: this.name, result });
  }

  private encode(value: T, freshMs: number, loadMs: number): string {
    const entry: Entry = { v: this.codec.encode(value), x: this.deps.now() + freshMs, l: loadMs };
    return JSON.stringify(entry);
  }

  private async backend<R>(call: (backend: CacheBackend) => Promise<R>): Promise<R> {
    try {
      return await call(this.deps.backend);
    } catch (error) {
      logBackend(`cache-${this.name}`, () =>
        log.warn({ module: "cache", cache: this.name, err: (error as Error).message }, "cache store unavailable; reading through to the source"),
      );
      throw new BackendUnavailable((error as Error).message);
    }
  }

  private async resolve(id: string, loader: () => Promise<T>, accept: (value: T) => boolean, random: Random): Promise<T> {
    const k = this.keysOf(id);
    try {
      const read = await this.backend((b) => b.read(k.entry, k.generation));
      const entry = parseEntry(read.entry);
      const usable = entry !== null && accept(this.codec.decode(entry.v)) ? entry : null;
      const now = this.deps.now();
      if (usable && now < usable.x) {
        if (refreshesEarly(now, usable.x, usable.l, this.settings.beta, random(), maxEarlyRefreshMs(this.settings)))
          this.refreshInBackground(id, loader, read.generation);
        this.count("hit");
        return this.codec.decode(usable.v);
      }
      let token = await this.tryLock(k.lock);
      if (token === null && usable) {
        // Expired, and another caller is reloading it: serve what we have meanwhile.
        this.count("stale");
        return this.codec.decode(usable.v);
      }
      if (token === null) {
        const waited = await this.waitForOther(k, accept);
        if (waited.found) {
          this.count("hit");
          return waited.value;
        }
        token = waited.token;
      }
      // Another caller may have loaded it between our read and our lock: then there is nothing to do.
      const loaded = token === null ? null : await this.freshEntry(k, accept);
      if (loaded) {
        await this.unlock(k.lock, token as string);
        this.count("hit");
        return this.codec.decode(loaded.entry.v);
      }
      return await this.loadAndStore(k, loader, read.generation, token, usable, random);
    } catch (error) {
      if (!(error instanceof BackendUnavailable)) throw error;
      this.count("bypass");
      return this.load(loader).then(({ value }) => value);
    }
  }

  private refreshesEarly(entry: Entry, now: number): boolean {
    return refreshesEarly(now, entry.x, entry.l, this.settings.beta, this.deps.random(), maxEarlyRefreshMs(this.settings));
  }

  private refreshInBackground(id: string, loader: () => Promise<T>, generation: string): void {
    if (this.refreshing.has(id)) return;
    this.refreshing.add(id);
    const k = this.keysOf(id);
    const refresh = async () => {
      const token = await this.tryLock(k.lock);
      if (token === null) return;
      const current = await this.freshEntry(k, () => true);
      // Refreshed by another process meanwhile (its entry lives longer than the one this read saw).
      if (current && current.generation === generation && !this.refreshesEarly(current.entry, this.deps.now())) {
        await this.unlock(k.lock, token);
        return;
      }
      await this.loadAndStore(k, loader, current?.generation ?? generation, token, null);
    };
    refresh()
      .catch((error: Error) =>
        log.warn({ module: "cache", cache: this.name, err: error.message }, "early refresh failed; the entry is served until it expires"),
      )
      .finally(() => this.refreshing.delete(id));
  }

  private async tryLock(lockKey: string): Promise<string | null> {
    const token = randomBytes(9).toString("base64url");
    return (await this.backend((b) => b.lock(lockKey, token, this.settings.lockMs))) ? token : null;
  }

  /** The key's entry if it is there, fresh and acceptable, with the generation read with it. */
  private async freshEntry(k: ReturnType<Cache<T>["keysOf"]>, accept: (value: T) => boolean): Promise<{ entry: Entry; generation: string } | null> {
    const read = await this.backend((b) => b.read(k.entry, k.generation));
    const entry = parseEntry(read.entry);
    if (!entry || this.deps.now() >= entry.x || !accept(this.codec.decode(entry.v))) return null;
    return { entry, generation: read.generation };
  }

  private async unlock(lockKey: string, token: string): Promise<void> {
    await this.deps.backend
      .unlock(lockKey, token)
      .catch((error: Error) => log.warn({ module: "cache", cache: this.name, err: error.message }, "could not release a cache lock; it expires by itself"));
  }

  /** Waits for another process's load: its value, or the lock (theirs failed), or neither by the deadline. */
  private async waitForOther(
    k: ReturnType<Cache<T>["keysOf"]>,
    accept: (value: T) => boolean,
  ): Promise<{ found: true; value: T } | { found: false; token: string | null }> {
    const deadline = this.deps.now() + this.settings.waitMs;
    while (this.deps.now() < deadline) {
      await this.deps.sleep(jitterDown(this.settings.pollMs, 0.5, this.deps.random));
      const entry = parseEntry((await this.backend((b) => b.read(k.entry, k.generation))).entry);
      if (entry && this.deps.now() < entry.x + this.settings.staleMs) {
        const value = this.codec.decode(entry.v);
        if (accept(value)) return { found: true, value };
      }
      const token = await this.tryLock(k.lock);
      if (token !== null) return { found: false, token };
    }
    return { found: false, token: null };
  }

  private async load(loader: () => Promise<T>): Promise<{ value: T; loadMs: number }> {
    metrics.cacheLoads.inc({ cache: this.name });
    const started = this.deps.now();
    const end = metrics.cacheLoadSeconds.startTimer({ cache: this.name });
    try {
      const value = await loader();
      return { value, loadMs: this.deps.now() - started };
    } finally {
      end();
    }
  }

  private async loadAndStore(
    k: ReturnType<Cache<T>["keysOf"]>,
    loader: () => Promise<T>,
    generation: string,
    token: string | null,
    stale: Entry | null,
    random: Random = this.deps.random,
  ): Promise<T> {
    try {
      let loaded: { value: T; loadMs: number };
      try {
        loaded = await this.load(loader);
      } catch (error) {
        if (!stale) throw error;
        log.warn({ module: "cache", cache: this.name, err: (error as Error).message }, "reload failed; serving the expired value");
        this.count("stale");
        return this.codec.decode(stale.v);
      }
      const { value, loadMs } = loaded;
      const fresh = jitterDown(this.settings.ttlMs, this.settings.jitter, random);
      // Written only if nothing invalidated the key since `generation` was read, before the load began.
      await this.deps.backend
        .writeIfGeneration(k.entry, k.generation, generation, this.encode(value, fresh, loadMs), fresh + this.settings.staleMs)
        .catch((error: Error) =>
          logBackend(`cache-write-${this.name}`, () => log.warn({ module: "cache", cache: this.name, err: error.message }, "could not write a cache entry")),
        );
      this.count("miss");
      return value;
    } finally {
      if (token !== null) await this.unlock(k.lock, token);
    }
  }
}
