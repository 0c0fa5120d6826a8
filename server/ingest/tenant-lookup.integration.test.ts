/**
 * The webhook's tenant cache against the thundering herd: concurrent misses
 * for one slug share a single query, and entries expire at jittered times
 * (so entries filled together do not all reload together).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { db } from "../db.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { keys } from "../keys.ts";
import { store } from "../redis.ts";
import { admit, StaleTenant } from "./rate-limit.ts";
import { findCheckedTenant, findIngestTenant, forgetTenant, type CheckedTenant } from "./tenant-lookup.ts";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("tenant lookup cache", () => {
  it("answers 100 concurrent misses for one slug with one database query (single-flight)", async () => {
    const tenant = await createTestTenant();
    const query = vi.spyOn(db.tenant, "findUnique");
    const found = await Promise.all(Array.from({ length: 100 }, () => findIngestTenant(tenant.slug)));
    expect(found.every((entry) => entry?.id === tenant.id)).toBe(true);
    expect(query).toHaveBeenCalledTimes(1);
  });

  it("expires an entry between 80% and 100% of the TTL, where the random source puts it", async () => {
    const early = await createTestTenant();
    const late = await createTestTenant();
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    await findIngestTenant(early.slug, () => 0); // expires at 0.8 × 5,000 ms
    await findIngestTenant(late.slug, () => 0.999); // expires at ~5,000 ms
    const query = vi.spyOn(db.tenant, "findUnique");

    vi.setSystemTime(start + 3_900);
    await findIngestTenant(early.slug);
    await findIngestTenant(late.slug);
    expect(query).toHaveBeenCalledTimes(0);

    vi.setSystemTime(start + 4_100);
    await findIngestTenant(early.slug);
    await findIngestTenant(late.slug);
    expect(query).toHaveBeenCalledTimes(1);
    expect(query.mock.calls[0]?.[0]).toMatchObject({ where: { slug: early.slug } });

    vi.setSystemTime(start + 5_100);
    await findIngestTenant(late.slug);
    expect(query).toHaveBeenCalledTimes(2);
  });

  it("reads the database again after forgetTenant (called after a change commits)", async () => {
    const tenant = await createTestTenant();
    await findIngestTenant(tenant.slug);
    const query = vi.spyOn(db.tenant, "findUnique");
    await findIngestTenant(tenant.slug);
    expect(query).toHaveBeenCalledTimes(0);
    await forgetTenant(tenant.slug);
    await findIngestTenant(tenant.slug);
    expect(query).toHaveBeenCalledTimes(1);
  });

  it("a single event's tenant is this process's copy for a while: no cache read and no query on the next request", async () => {
    const tenant = await createTestTenant();
    const first = await findCheckedTenant(tenant.slug);
    const read = vi.spyOn(store.cache, "read");
    const query = vi.spyOn(db.tenant, "findUnique");
    const second = await findCheckedTenant(tenant.slug);
    expect(second).toBe(first);
    expect(read).toHaveBeenCalledTimes(0);
    expect(query).toHaveBeenCalledTimes(0);
  });

  it("the copy's decision is stale once the tenant's cache generation moved (a change committed in any process), and a fresh read decides", async () => {
    const tenant = await createTestTenant({ ratePerSecond: 1_000, burst: 1_000 });
    const copy = (await findCheckedTenant(tenant.slug)) as CheckedTenant;
    expect(copy.generation.key).toBe(keys.cacheGeneration("tenant", tenant.slug));
    await expect(admit(copy, 1)).resolves.toBeUndefined();
    // What another process's forgetTenant does in Redis; this process's copy is left as it was.
    await store.cache.invalidate(keys.cacheEntry("tenant", tenant.slug), copy.generation.key, null);
    await expect(admit(copy, 1)).rejects.toBeInstanceOf(StaleTenant);
    expect(await findCheckedTenant(tenant.slug)).toBe(copy);
    const fresh = (await findCheckedTenant(tenant.slug, { fresh: true })) as CheckedTenant;
    expect(fresh.generation.expected).not.toBe(copy.generation.expected);
    await expect(admit(fresh, 1)).resolves.toBeUndefined();
  });

  it("forgetTenant drops this process's copy too", async () => {
    const tenant = await createTestTenant();
    const first = await findCheckedTenant(tenant.slug);
    await forgetTenant(tenant.slug);
    expect(await findCheckedTenant(tenant.slug)).not.toBe(first);
  });
});
