/**
 * The webhook's tenant cache against the thundering herd: concurrent misses
 * for one slug share a single query, and entries expire at jittered times
 * (so entries filled together do not all reload together).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { db } from "../db.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { findIngestTenant, forgetTenant } from "./tenant-lookup.ts";

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
});
