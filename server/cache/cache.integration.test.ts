/**
 * The shared cache over the real Redis, across real processes, beside the
 * real PostgreSQL:
 * - the stampede: 200 readers of 50 hot keys in 2 processes while the keys
 *   expire, ours against a naive cache (TTL, no jitter, no single flight),
 *   counting loads per key per expiry;
 * - a commit and a load interleaved: a load that read the old row before the
 *   commit cannot put it back after the commit's invalidation (and the same
 *   interleaving without the generation check does, so the test can fail);
 * - Redis unreachable: reads are bypassed and counted, nothing fails.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pool, sql } from "../db.ts";
import { env } from "../env.ts";
import { metrics } from "../metrics.ts";
import { RedisStore, store } from "../redis.ts";
import type { CacheBackend } from "./backend.ts";
import { Cache } from "./cache.ts";
import { loadsPerExpiry, runStampedeProcess, type StampedeArgs, type StampedeCache, type StampedeReport } from "./stampede.ts";

const runChild = (cache: StampedeCache, args: StampedeArgs) =>
  runStampedeProcess(cache, args, { ...process.env, REDIS_KEY_PREFIX: `${env.REDIS_KEY_PREFIX}${cache}:` });

describe("stampede across processes", () => {
  it("200 readers of 50 hot keys in 2 processes, keys expiring during the run: at most 2 loads per key per expiry (a naive cache shown beside it)", async () => {
    const args = { keys: 50, readers: 100, durationMs: 4_000, ttlMs: 500, loadMs: 20 };
    const ours = await Promise.all([runChild("ours", args), runChild("ours", args)]);
    const naive = await Promise.all([runChild("naive", args), runChild("naive", args)]);
    const figure = (reports: StampedeReport[], minTtl: number) => {
      const loads = reports.flatMap((report) => report.loads);
      return { reads: reports.reduce((sum, report) => sum + report.reads, 0), loads: loads.length, ...loadsPerExpiry(loads, minTtl) };
    };
    const oursFigure = figure(ours, args.ttlMs * 0.8);
    const naiveFigure = figure(naive, args.ttlMs);
    console.log(
      `stampede: 2 processes × 100 readers, 50 keys, TTL ${args.ttlMs} ms, ${args.durationMs} ms: ` +
        `ours ${oursFigure.loads} loads for ${oursFigure.reads} reads, at most ${oursFigure.most} per key per expiry (mean ${oursFigure.mean.toFixed(2)}); ` +
        `naive ${naiveFigure.loads} loads for ${naiveFigure.reads} reads, at most ${naiveFigure.most} per key per expiry (mean ${naiveFigure.mean.toFixed(2)})`,
    );
    // Every key expired several times during the run, in both.
    expect(oursFigure.expiries).toBeGreaterThanOrEqual(args.keys * 4);
    expect(naiveFigure.expiries).toBeGreaterThanOrEqual(args.keys * 4);
    expect(oursFigure.most).toBeLessThanOrEqual(2);
    // The comparison is only a comparison if the naive cache does stampede under this load.
    expect(naiveFigure.most).toBeGreaterThan(2);
  });
});

describe("a commit and a load interleaved", () => {
  beforeAll(async () => {
    await sql(pool, "CREATE TABLE cache_probe (id text PRIMARY KEY, value text NOT NULL)");
  });
  afterAll(async () => {
    await sql(pool, "DROP TABLE cache_probe");
  });

  /** A load that reads the row, then waits until the test lets it finish (as a slow reader would). */
  function pausedLoad(id: string) {
    let release = () => {};
    let read = () => {};
    const hasRead = new Promise<void>((resolve) => (read = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const load = async () => {
      const [row] = await sql<{ value: string }>(pool, "SELECT value FROM cache_probe WHERE id = $1", [id]);
      read();
      await released;
      return row?.value ?? "missing";
    };
    return { load, hasRead, release };
  }

  async function interleave(cache: Cache<string>, id: string): Promise<string> {
    await sql(pool, "INSERT INTO cache_probe (id, value) VALUES ($1, 'old')", [id]);
    const load = () => sql<{ value: string }>(pool, "SELECT value FROM cache_probe WHERE id = $1", [id]).then(([row]) => row?.value ?? "missing");
    const racing = pausedLoad(id);
    // A read misses and loads: it reads "old" …
    const reading = cache.getOrLoad(id, racing.load);
    await racing.hasRead;
    // … the writer commits "new" and invalidates after its commit …
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("UPDATE cache_probe SET value = 'new' WHERE id = $1", [id]);
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    await cache.invalidate(id);
    // … then the slow read writes what it read.
    racing.release();
    expect(await reading).toBe("old");
    return cache.getOrLoad(id, load);
  }

  it("a load that read the old row before the commit cannot put it back after the invalidation", async () => {
    expect(await interleave(new Cache<string>("probe", { ttlMs: 60_000 }), "a")).toBe("new");
  });

  it("control: the same interleaving without the generation check leaves the old value cached (so the test above can fail)", async () => {
    const unguarded: CacheBackend = {
      read: (entryKey, generationKey) => store.cache.read(entryKey, generationKey),
      writeIfGeneration: (entryKey, generationKey, _generation, entry, ttlMs) =>
        store.cache.read(entryKey, generationKey).then(({ generation }) => store.cache.writeIfGeneration(entryKey, generationKey, generation, entry, ttlMs)),
      invalidate: (...args) => store.cache.invalidate(...args),
      lock: (...args) => store.cache.lock(...args),
      unlock: (...args) => store.cache.unlock(...args),
    };
    expect(await interleave(new Cache<string>("probe-unguarded", { ttlMs: 60_000 }, { dependencies: { backend: unguarded } }), "b")).toBe("old");
  });
});

describe("Redis unreachable", () => {
  it("reads go to the source, are counted as bypass, and nothing fails", async () => {
    const unreachable = new RedisStore("redis://127.0.0.1:1");
    try {
      const cache = new Cache<number>("down", { ttlMs: 60_000 }, { dependencies: { backend: unreachable.cache } });
      const before = (await metrics.cacheRequests.get()).values.find((v) => v.labels.cache === "down" && v.labels.result === "bypass")?.value ?? 0;
      let loads = 0;
      for (let i = 1; i <= 3; i++) expect(await cache.getOrLoad("k", async () => ++loads)).toBe(i);
      const after = (await metrics.cacheRequests.get()).values.find((v) => v.labels.cache === "down" && v.labels.result === "bypass")?.value ?? 0;
      expect(after - before).toBe(3);
      expect(await cache.invalidate("k")).toBe(false);
    } finally {
      await unreachable.close();
    }
  });
});
