/**
 * The SharedStore contract, run against both implementations: RedisStore on
 * the real Redis (Redis's own clock, so time passes by really waiting, with
 * small numbers) and MemoryStore with an injected clock. The same cases, the
 * same expected decisions: the in-process stand-in must behave like Redis.
 *
 * Keys live under this file's REDIS_KEY_PREFIX (test/setup-integration.ts)
 * plus a per-test part, and are deleted after each test.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MS_PER_DAY, utcDay } from "./keys.ts";
import { MemoryStore, RedisStore, type SharedStore, type TokenRequest } from "./redis.ts";

const redisUrl = process.env.REDIS_URL;
const prefix = process.env.REDIS_KEY_PREFIX;
if (!redisUrl || !prefix) throw new Error("REDIS_URL and REDIS_KEY_PREFIX are set by test/setup-integration.ts");

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Harness {
  store: SharedStore;
  /** Lets `ms` pass on the store's clock. */
  advance(ms: number): Promise<void>;
  /** The store's idea of now, within clock skew for Redis. */
  now(): number;
  /** How far a duration measured by the store may be off what the test computes. */
  slackMs: number;
}

const implementations: { name: string; create(): Harness }[] = [
  {
    name: "RedisStore on the real Redis",
    // Real time passes between calls; a loaded machine may stall a call for a while.
    create: () => ({ store: new RedisStore(redisUrl), advance: sleep, now: () => Date.now(), slackMs: 250 }),
  },
  {
    name: "MemoryStore with an injected clock",
    create: () => {
      // Mid-morning UTC: far from a day boundary.
      let now = Date.UTC(2026, 10, 27, 10, 0, 0);
      return {
        store: new MemoryStore(() => now),
        advance: async (ms) => {
          now += ms;
        },
        now: () => now,
        slackMs: 0,
      };
    },
  },
];

const admin = new Redis(redisUrl);
afterAll(async () => {
  await admin.quit();
});

describe.each(implementations)("SharedStore contract: $name", ({ create }) => {
  let harness: Harness;
  let usedKeys: string[] = [];
  beforeAll(() => {
    harness = create();
  });
  afterAll(async () => harness.store.close());
  afterEach(async () => {
    if (usedKeys.length > 0) await admin.del(...usedKeys);
    usedKeys = [];
  });

  /** A bucket and today's quota key of a fresh tenant. */
  function fresh(overrides: Partial<TokenRequest> = {}): TokenRequest & { quotaKey: string } {
    const base = `${prefix}contract:${randomBytes(4).toString("hex")}`;
    const request = {
      bucketKey: `${base}:rate`,
      quotaKey: `${base}:quota:${utcDay(harness.now())}`,
      ratePerSecond: 1,
      burst: 5,
      cost: 1,
      dailyQuota: null,
      ...overrides,
    } as TokenRequest & { quotaKey: string };
    usedKeys.push(request.bucketKey, request.quotaKey);
    return request;
  }

  async function takeTimes(request: TokenRequest, times: number): Promise<boolean[]> {
    const allowed: boolean[] = [];
    for (let i = 0; i < times; i++) allowed.push((await harness.store.takeTokens(request)).allowed);
    return allowed;
  }

  it("a fresh bucket admits `burst` requests, then refuses with the time one token takes to refill", async () => {
    const request = fresh({ ratePerSecond: 1, burst: 5 });
    expect(await takeTimes(request, 5)).toEqual([true, true, true, true, true]);
    const refused = await harness.store.takeTokens(request);
    expect(refused).toMatchObject({ allowed: false, reason: "rate" });
    if (refused.allowed) return;
    // One token at 1/s is 1,000 ms, less what trickled in since the last take.
    expect(refused.retryAfterMs).toBeLessThanOrEqual(1_000);
    expect(refused.retryAfterMs).toBeGreaterThanOrEqual(1_000 - harness.slackMs);
  });

  it("tokens refill at the rate, never beyond the burst", async () => {
    // 5/s: a token every 200 ms, slow enough that consecutive calls do not refill one.
    const request = fresh({ ratePerSecond: 5, burst: 2 });
    expect(await takeTimes(request, 3)).toEqual([true, true, false]);
    await harness.advance(500); // 2.5 tokens
    expect(await takeTimes(request, 3)).toEqual([true, true, false]);
    await harness.advance(1_500); // 7.5 tokens' worth, capped at 2
    expect(await takeTimes(request, 3)).toEqual([true, true, false]);
  });

  it("a cost above the burst is admitted on a full bucket and leaves it in debt", async () => {
    const request = fresh({ ratePerSecond: 1, burst: 5 });
    expect((await harness.store.takeTokens({ ...request, cost: 8 })).allowed).toBe(true);
    const next = await harness.store.takeTokens(request);
    expect(next).toMatchObject({ allowed: false, reason: "rate" });
    if (next.allowed) return;
    // 5 - 8 = -3 tokens: one token is 4 s away at 1/s.
    expect(next.retryAfterMs).toBeLessThanOrEqual(4_000);
    expect(next.retryAfterMs).toBeGreaterThanOrEqual(4_000 - harness.slackMs);
  });

  it("a cost above the burst waits for a full bucket", async () => {
    const request = fresh({ ratePerSecond: 1, burst: 5 });
    expect((await harness.store.takeTokens(request)).allowed).toBe(true);
    const big = await harness.store.takeTokens({ ...request, cost: 8 });
    expect(big).toMatchObject({ allowed: false, reason: "rate" });
    if (big.allowed) return;
    expect(big.retryAfterMs).toBeGreaterThanOrEqual(1_000 - harness.slackMs);
    expect(big.retryAfterMs).toBeLessThanOrEqual(1_000);
  });

  it("the daily quota refuses past the quota with reason quota, until UTC midnight", async () => {
    const request = fresh({ ratePerSecond: 1_000, burst: 1_000, dailyQuota: 3 });
    expect((await harness.store.takeTokens({ ...request, cost: 2 })).allowed).toBe(true);
    // All or nothing: 2 more would pass the quota though 1 is left.
    expect(await harness.store.takeTokens({ ...request, cost: 2 })).toMatchObject({ allowed: false, reason: "quota" });
    expect((await harness.store.takeTokens(request)).allowed).toBe(true);
    const over = await harness.store.takeTokens(request);
    expect(over).toMatchObject({ allowed: false, reason: "quota" });
    if (over.allowed) return;
    const toMidnight = MS_PER_DAY - (harness.now() % MS_PER_DAY);
    expect(Math.abs(over.retryAfterMs - toMidnight)).toBeLessThanOrEqual(harness.slackMs === 0 ? 0 : 2_000);
  });

  it("a request refused by the rate spends no tokens", async () => {
    const request = fresh({ ratePerSecond: 5, burst: 1 });
    expect(await takeTimes(request, 6)).toEqual([true, false, false, false, false, false]);
    // One token's time (200 ms) and a little: enough only if the refusals took nothing.
    await harness.advance(250);
    expect((await harness.store.takeTokens(request)).allowed).toBe(true);
  });

  it("a request refused by the rate does not count against the daily quota", async () => {
    const request = fresh({ ratePerSecond: 0.001, burst: 1, dailyQuota: 2 });
    expect(await takeTimes(request, 4)).toEqual([true, false, false, false]);
    // Another bucket on the same quota: the quota has exactly one left.
    const sameQuota = { ...fresh({ ratePerSecond: 0.001, burst: 5, dailyQuota: 2 }), quotaKey: request.quotaKey };
    expect(await takeTimes(sameQuota, 2)).toEqual([true, false]);
    expect(await harness.store.takeTokens(sameQuota)).toMatchObject({ allowed: false, reason: "quota" });
  });

  it("a request refused by the quota spends no tokens", async () => {
    const request = fresh({ ratePerSecond: 0.001, burst: 3, dailyQuota: 1 });
    expect(await takeTimes(request, 4)).toEqual([true, false, false, false]);
    // The next day's quota on the same bucket: the two tokens left are still there.
    const nextDay = { ...request, quotaKey: `${request.quotaKey}-next`, dailyQuota: 100 };
    usedKeys.push(nextDay.quotaKey);
    expect(await takeTimes(nextDay, 3)).toEqual([true, true, false]);
  });

  it("a decision expecting a generation the key no longer holds is stale and takes nothing; one expecting the current generation decides", async () => {
    const request = fresh({ burst: 2 });
    const generation = `${request.bucketKey}:gen`;
    const entry = `${request.bucketKey}:entry`;
    usedKeys.push(generation, entry);
    // An absent generation reads as "0", as the cache's own reads do.
    expect(await harness.store.takeTokens({ ...request, generation: { key: generation, expected: "0" } })).toEqual({ allowed: true });
    await harness.store.cache.invalidate(entry, generation, null);
    expect(await harness.store.takeTokens({ ...request, generation: { key: generation, expected: "0" } })).toEqual({
      allowed: false,
      reason: "stale",
      retryAfterMs: 0,
    });
    // The stale decision took nothing: the bucket's second token is still there, and then none.
    expect(await harness.store.takeTokens({ ...request, generation: { key: generation, expected: "1" } })).toEqual({ allowed: true });
    expect(await harness.store.takeTokens(request)).toMatchObject({ allowed: false, reason: "rate" });
  });

  it("200 concurrent requests on a bucket of 50 admit exactly 50", async () => {
    const request = fresh({ ratePerSecond: 0.001, burst: 50 });
    const results = await Promise.all(Array.from({ length: 200 }, () => harness.store.takeTokens(request)));
    expect(results.filter((result) => result.allowed)).toHaveLength(50);
  });
});

describe("RedisStore keys", () => {
  const store = new RedisStore(redisUrl);
  afterAll(async () => store.close());

  it("an idle bucket and a day's quota counter expire instead of staying forever", async () => {
    const base = `${prefix}contract-ttl:${randomBytes(4).toString("hex")}`;
    const request = {
      bucketKey: `${base}:rate`,
      quotaKey: `${base}:quota:${utcDay(Date.now())}`,
      ratePerSecond: 10,
      burst: 100,
      cost: 50,
      dailyQuota: 1_000,
    };
    try {
      expect((await store.takeTokens(request)).allowed).toBe(true);
      // The bucket lives until it would be full again (5 s) plus a minute; the quota a day and an hour.
      const bucketTtl = await admin.pttl(request.bucketKey);
      expect(bucketTtl).toBeGreaterThan(60_000);
      expect(bucketTtl).toBeLessThanOrEqual(65_000);
      const quotaTtl = await admin.pttl(request.quotaKey);
      expect(quotaTtl).toBeGreaterThan(MS_PER_DAY);
      expect(quotaTtl).toBeLessThanOrEqual(MS_PER_DAY + 3_600_000);
    } finally {
      await admin.del(request.bucketKey, request.quotaKey);
    }
  });
});
