/**
 * The cache's rules on the in-process backend, with a clock, a random source
 * and a sleep the test controls: jittered expiry, early refresh, single
 * flight, one loader per key across instances (two "processes" sharing one
 * backend), failures that do not poison, the generation guard against a load
 * that raced an invalidation, and bypass when the store is down. The same
 * rules over Redis and real processes: cache.integration.test.ts.
 */
import { describe, expect, it } from "vitest";
import { seededRandom } from "../lib/random.ts";
import { type CacheBackend, MemoryCacheBackend } from "./backend.ts";
import { Cache, type CacheDependencies, type CacheSettings, maxEarlyRefreshMs, refreshesEarly } from "./cache.ts";

function world(seed = 1) {
  let now = 1_000_000;
  const clock = {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
  const backend = new MemoryCacheBackend(clock.now);
  const dependencies: CacheDependencies = {
    backend,
    random: seededRandom(seed),
    now: clock.now,
    // Waiting moves the test's clock, then yields so that other callers run.
    sleep: async (ms) => {
      clock.advance(ms);
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
  const cache = <T>(settings: Partial<CacheSettings> & { ttlMs: number }, deps: Partial<CacheDependencies> = {}) =>
    new Cache<T>("test", settings, { dependencies: { ...dependencies, ...deps } });
  return { clock, backend, dependencies, cache };
}

/** A loader whose calls are counted and whose completion the test releases. */
function gatedLoader<T>(value: (call: number) => T) {
  let calls = 0;
  const gates: (() => void)[] = [];
  return {
    get calls() {
      return calls;
    },
    release: () => gates.splice(0).forEach((open) => open()),
    load: () => {
      calls++;
      const call = calls;
      return new Promise<T>((resolve) => gates.push(() => resolve(value(call))));
    },
  };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe("jittered expiry", () => {
  it("10,000 keys written at once with one TTL expire spread over the jitter window, not together", async () => {
    const { clock, cache } = world(7);
    const expiries: number[] = [];
    const c = cache<number>({ ttlMs: 60_000, jitter: 0.2, beta: 0 });
    for (let i = 0; i < 10_000; i++) await c.getOrLoad(`k${i}`, async () => i);
    // Find each key's expiry from outside: the first moment a read loads again.
    const start = clock.now();
    const remaining = new Set(Array.from({ length: 10_000 }, (_, i) => i));
    for (let t = 47_000; t <= 61_000 && remaining.size > 0; t += 1_000) {
      clock.advance(start + t - clock.now());
      for (const i of [...remaining]) {
        let reloaded = false;
        await c.getOrLoad(`k${i}`, async () => {
          reloaded = true;
          return i;
        });
        if (reloaded) {
          expiries.push(t);
          remaining.delete(i);
        }
      }
    }
    expect(remaining.size).toBe(0);
    const perSecond = new Map<number, number>();
    for (const t of expiries) perSecond.set(t, (perSecond.get(t) ?? 0) + 1);
    const most = Math.max(...perSecond.values());
    console.log(`jitter: 10,000 keys, TTL 60 s, jitter 20%: at most ${most} expire in any one second (window 12 s; without jitter: 10,000)`);
    // Uniform over a 12 s window: about 833 a second. Without jitter every key expires in the same second.
    expect(most).toBeLessThanOrEqual(Math.ceil((10_000 / 12) * 1.25));
    expect(Math.min(...expiries)).toBeGreaterThanOrEqual(48_000);
  });
});

describe("early refresh (XFetch)", () => {
  it("is rare far from expiry and likely close to it, sooner for slow loads", () => {
    const random = seededRandom(3);
    const rate = (msBeforeExpiry: number, loadMs: number) => {
      let refreshed = 0;
      for (let i = 0; i < 10_000; i++) if (refreshesEarly(100_000 - msBeforeExpiry, 100_000, loadMs, 1, random())) refreshed++;
      return refreshed / 10_000;
    };
    expect(rate(10_000, 100)).toBe(0);
    // P(−ln r ≥ d/Δ) = e^(−d/Δ): 50 ms before expiry with Δ = 100 ms, e^−0.5 ≈ 0.61.
    expect(rate(50, 100)).toBeGreaterThan(0.57);
    expect(rate(50, 100)).toBeLessThan(0.65);
    expect(rate(500, 1_000)).toBeGreaterThan(rate(500, 100));
    expect(refreshesEarly(99_000, 100_000, 100, 0, 0.000001)).toBe(false);
  });

  it("never comes earlier than half the shortest life, however slow the measured load", () => {
    const settings = { ttlMs: 1_000, jitter: 0.2 };
    const cap = maxEarlyRefreshMs(settings);
    expect(cap).toBe(400);
    const random = seededRandom(4);
    // Δ as long as the TTL (a stalled process): uncapped, a read just after the write often refreshes.
    let uncapped = 0;
    let capped = 0;
    for (let i = 0; i < 10_000; i++) {
      const r = random();
      if (refreshesEarly(100_000 - 700, 100_000, 1_000, 1, r)) uncapped++;
      if (refreshesEarly(100_000 - 700, 100_000, 1_000, 1, r, cap)) capped++;
    }
    expect(uncapped).toBeGreaterThan(4_000);
    expect(capped).toBe(0);
    // Inside the cap, XFetch is unchanged.
    expect(refreshesEarly(100_000 - 300, 100_000, 1_000, 1, 0.5, cap)).toBe(refreshesEarly(100_000 - 300, 100_000, 1_000, 1, 0.5));
  });

  it("a hot key is reloaded before it expires, while its readers keep getting the cached value", async () => {
    const { clock, cache } = world(5);
    const c = cache<string>({ ttlMs: 1_000, jitter: 0 });
    let loads = 0;
    const loader = async () => {
      loads++;
      clock.advance(100); // the load takes 100 ms: XFetch's Δ
      return `v${loads}`;
    };
    expect(await c.getOrLoad("hot", loader)).toBe("v1");
    const seen: string[] = [];
    // Reads every 10 ms until the first entry's expiry.
    while (clock.now() < 1_000_000 + 100 + 1_000 - 10) {
      clock.advance(10);
      seen.push(await c.getOrLoad("hot", loader));
      await flush();
    }
    expect(loads).toBe(2);
    expect(seen.every((value) => value === "v1" || value === "v2")).toBe(true);
  });
});

describe("one loader per key", () => {
  it("concurrent reads in one process share one read of the store and one load", async () => {
    const { cache, backend } = world();
    let lookups = 0;
    const counted: CacheBackend = {
      read: (...args) => {
        lookups++;
        return backend.read(...args);
      },
      writeIfGeneration: (...args) => backend.writeIfGeneration(...args),
      invalidate: (...args) => backend.invalidate(...args),
      lock: (...args) => backend.lock(...args),
      unlock: (...args) => backend.unlock(...args),
    };
    const c = cache<number>({ ttlMs: 1_000 }, { backend: counted });
    const loader = gatedLoader(() => 42);
    const reads = Array.from({ length: 100 }, () => c.getOrLoad("k", loader.load));
    await flush();
    loader.release();
    expect(await Promise.all(reads)).toEqual(Array.from({ length: 100 }, () => 42));
    expect(loader.calls).toBe(1);
    // One read, and one more after taking the key's lock (another process may have loaded it meanwhile).
    expect(lookups).toBe(2);
  });

  it("two processes on one store: while one loads, the other serves the expired value it has, then the new one", async () => {
    const { clock, dependencies, cache } = world();
    const a = cache<string>({ ttlMs: 1_000, jitter: 0, beta: 0 });
    const b = new Cache<string>("test", { ttlMs: 1_000, jitter: 0, beta: 0 }, { dependencies });
    await a.getOrLoad("k", async () => "old");
    clock.advance(1_001);
    const loader = gatedLoader(() => "new");
    const loading = a.getOrLoad("k", loader.load);
    await flush();
    expect(await b.getOrLoad("k", async () => "b loaded it")).toBe("old");
    loader.release();
    expect(await loading).toBe("new");
    expect(await b.getOrLoad("k", async () => "b loaded it")).toBe("new");
    expect(loader.calls).toBe(1);
  });

  it("with nothing to serve, the other process waits for the loader's result instead of loading too", async () => {
    const { cache, dependencies } = world();
    const a = cache<string>({ ttlMs: 1_000, waitMs: 1_000, pollMs: 20 });
    let bLoads = 0;
    const b = new Cache<string>("test", { ttlMs: 1_000, waitMs: 1_000, pollMs: 20 }, { dependencies });
    const loader = gatedLoader(() => "a's value");
    const loading = a.getOrLoad("k", loader.load);
    await flush();
    const waiting = b.getOrLoad("k", async () => {
      bLoads++;
      return "b's value";
    });
    for (let i = 0; i < 5; i++) await flush();
    loader.release();
    expect(await loading).toBe("a's value");
    expect(await waiting).toBe("a's value");
    expect(bLoads).toBe(0);
  });

  it("a waiter whose loader never answers loads itself once the wait is over", async () => {
    const { cache, dependencies } = world();
    const a = cache<string>({ ttlMs: 1_000, waitMs: 200, pollMs: 20 });
    const b = new Cache<string>("test", { ttlMs: 1_000, waitMs: 200, pollMs: 20 }, { dependencies });
    const stuck = gatedLoader(() => "never");
    void a.getOrLoad("k", stuck.load);
    await flush();
    expect(await b.getOrLoad("k", async () => "b's value")).toBe("b's value");
  });
});

describe("failures", () => {
  it("a loader that fails does not poison the key: nothing is cached and the next read loads again", async () => {
    const { cache } = world();
    const c = cache<number>({ ttlMs: 1_000 });
    await expect(c.getOrLoad("k", () => Promise.reject(new Error("upstream down")))).rejects.toThrow("upstream down");
    expect(await c.getOrLoad("k", async () => 7)).toBe(7);
  });

  it("a failed reload of an expired value serves the expired value", async () => {
    const { clock, cache } = world();
    const c = cache<number>({ ttlMs: 1_000, jitter: 0, beta: 0, staleMs: 5_000 });
    await c.getOrLoad("k", async () => 1);
    clock.advance(2_000);
    expect(await c.getOrLoad("k", () => Promise.reject(new Error("upstream down")))).toBe(1);
    expect(await c.getOrLoad("k", async () => 2)).toBe(2);
  });

  it("with the store down every read goes to the loader and nothing fails", async () => {
    const down: CacheBackend = {
      read: () => Promise.reject(new Error("ECONNREFUSED")),
      writeIfGeneration: () => Promise.reject(new Error("ECONNREFUSED")),
      invalidate: () => Promise.reject(new Error("ECONNREFUSED")),
      lock: () => Promise.reject(new Error("ECONNREFUSED")),
      unlock: () => Promise.reject(new Error("ECONNREFUSED")),
    };
    const { cache } = world();
    const c = cache<number>({ ttlMs: 1_000 }, { backend: down });
    let loads = 0;
    for (let i = 0; i < 3; i++) expect(await c.getOrLoad("k", async () => ++loads)).toBe(loads);
    expect(loads).toBe(3);
    expect(await c.invalidate("k")).toBe(false);
  });
});

describe("invalidation", () => {
  it("a load that read the old data before the commit cannot put it back after the invalidation", async () => {
    const { cache } = world();
    const c = cache<string>({ ttlMs: 60_000 });
    let source = "old";
    const reader = gatedLoader(() => "old");
    // A read loads: it has read "old" from the source and is about to write it to the cache …
    const racing = c.getOrLoad("k", reader.load);
    await flush();
    // … meanwhile the source commits "new", and the cache is invalidated after the commit …
    source = "new";
    await c.invalidate("k");
    // … then the racing read finishes with what it read.
    reader.release();
    expect(await racing).toBe("old");
    expect(await c.getOrLoad("k", async () => source)).toBe("new");
  });

  it("a delete's tombstone is served without asking the source", async () => {
    const { cache } = world();
    const c = cache<{ deleted: boolean } | null>({ ttlMs: 60_000 });
    await c.getOrLoad("k", async () => ({ deleted: false }));
    await c.invalidate("k", { deleted: true });
    expect(await c.getOrLoad("k", () => Promise.reject(new Error("the source must not be asked")))).toEqual({ deleted: true });
  });

  it("a cached value the caller will not accept (too old a version) is loaded afresh", async () => {
    const { cache } = world();
    const c = cache<{ version: number }>({ ttlMs: 60_000 });
    await c.getOrLoad("k", async () => ({ version: 3 }));
    expect(await c.getOrLoad("k", async () => ({ version: 5 }), { accept: (value) => value.version >= 5 })).toEqual({ version: 5 });
    expect(await c.getOrLoad("k", () => Promise.reject(new Error("cached")), { accept: (value) => value.version >= 4 })).toEqual({ version: 5 });
  });
});
