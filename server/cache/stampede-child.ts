/**
 * One process of the stampede experiment (stampede.ts: the cache test and the bench):
 * `readers` concurrent readers of `keys` hot keys for `durationMs`, through
 * Tidemark's cache ("ours") or a naive one (a plain GET, and on a miss a load
 * and a SET with the TTL: no jitter, no early refresh, no single flight), on
 * the Redis that REDIS_URL and REDIS_KEY_PREFIX name. Prints one JSON line
 * when done: its reads, and every load it made (key, time), so the parent
 * can count loads per key per expiry across processes.
 */
import { Cache } from "./cache.ts";
import { keys } from "../keys.ts";
import { closeStore, store } from "../redis.ts";

const [mode, keyCount, readers, durationMs, ttlMs, loadMs] = process.argv.slice(2).map((arg, i) => (i === 0 ? arg : Number(arg))) as [
  string,
  number,
  number,
  number,
  number,
  number,
];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const loads: [string, number][] = [];

async function load(key: string): Promise<string> {
  await sleep(loadMs);
  loads.push([key, Date.now()]);
  return `value of ${key}`;
}

const ours = new Cache<string>("stampede", { ttlMs, jitter: 0.2, waitMs: 2_000, pollMs: 10 });

async function naive(key: string): Promise<string> {
  const entryKey = keys.cacheEntry("stampede-naive", key);
  const generationKey = keys.cacheGeneration("stampede-naive", key);
  const { entry } = await store.cache.read(entryKey, generationKey);
  if (entry !== null) return entry;
  const value = await load(key);
  await store.cache.writeIfGeneration(entryKey, generationKey, "0", value, ttlMs);
  return value;
}

const read = mode === "ours" ? (key: string) => ours.getOrLoad(key, () => load(key)) : naive;
const deadline = Date.now() + durationMs;
let reads = 0;
await Promise.all(
  Array.from({ length: readers }, async (_, reader) => {
    for (let i = reader; Date.now() < deadline; i++) {
      await read(`k${i % keyCount}`);
      reads++;
      await sleep(1);
    }
  }),
);
process.stdout.write(`${JSON.stringify({ reads, loads })}\n`);
await closeStore();
