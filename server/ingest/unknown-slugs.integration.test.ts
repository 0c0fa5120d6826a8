/**
 * Posts to tenants that do not exist, from outside over HTTP: a slug that
 * cannot exist (fails the slug pattern, too long) is a 404 without a single
 * database statement, and a flood of random unknown-but-valid slugs leaves
 * the negative cache at its bound and the heap flat
 * (server/ingest/tenant-lookup.ts).
 *
 * Database statements are counted at the pool, which every query of the
 * process goes through (Prisma's adapter included).
 */
import { randomBytes } from "node:crypto";
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { keepAliveClient, mapConcurrent } from "../../test/http-client.ts";
import type { TestServer } from "../../test/http.ts";
import { WEBHOOK_SERVERS, itemEvent, newEventId, serveFastPath, signedHeaders } from "../../test/webhooks.ts";
import { pool } from "../db.ts";
import { generateSecret } from "./signature.ts";
import { NEGATIVE_CACHE_MAX, unknownSlugsCached } from "./tenant-lookup.ts";

afterEach(() => vi.restoreAllMocks());

const body = JSON.stringify(itemEvent("item.created", { id: "item-1", version: 1 }));
const headers = () => signedHeaders(generateSecret(), newEventId(), Math.floor(Date.now() / 1000), body);

/** Counts every statement and every connection taken from the pool while it is on. */
function countDatabaseUse(): () => number {
  const query = vi.spyOn(pool, "query");
  const connect = vi.spyOn(pool, "connect");
  return () => query.mock.calls.length + connect.mock.calls.length;
}

describe.each(WEBHOOK_SERVERS)("slugs that cannot exist ($name)", ({ start }) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => server.close());

  const impossible = [
    ["uppercase", "Acme"],
    ["an underscore", "acme_corp"],
    ["a leading dash", "-acme"],
    ["a trailing dash", "acme-"],
    ["64 characters, one over the limit", "a".repeat(64)],
    ["a thousand characters", "b".repeat(1_000)],
    ["a percent-encoded NUL", "acme%00"],
    ["a percent-encoded space", "ac%20me"],
  ];
  it.each(impossible)("%s: 404 without touching the database", async (_what, slug) => {
    const used = countDatabaseUse();
    const cachedBefore = unknownSlugsCached();
    for (const path of [`/api/webhooks/${slug}`, `/api/webhooks/${slug}/batch`]) {
      const response = await fetch(`${server.url}${path}`, { method: "POST", headers: headers(), body });
      expect(response.status).toBe(404);
      expect((await response.json()).error.code).toBe("tenant_not_found");
    }
    expect(used()).toBe(0);
    // Not even remembered: it needs no memory either.
    expect(unknownSlugsCached()).toBe(cachedBefore);
  });

  it("a valid slug that names no tenant is looked up once, then answered from the negative cache", async () => {
    const slug = `nobody-${randomBytes(4).toString("hex")}`;
    const used = countDatabaseUse();
    const post = () => fetch(`${server.url}/api/webhooks/${slug}`, { method: "POST", headers: headers(), body });
    expect((await post()).status).toBe(404);
    const afterFirst = used();
    expect(afterFirst).toBeGreaterThan(0);
    for (let i = 0; i < 4; i++) expect((await post()).status).toBe(404);
    expect(used()).toBe(afterFirst);
  });
});

describe("a flood of random unknown slugs (production fast path)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serveFastPath();
  });
  afterAll(async () => server.close());

  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const heapAfterGc = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };

  it("10⁵ random valid slugs: every one a 404, the negative cache at its bound, the heap flat", { timeout: 600_000 }, async () => {
    const client = keepAliveClient(50);
    const run = randomBytes(3).toString("hex");
    const send = (n: number) =>
      mapConcurrent(
        Array.from({ length: n }, () => `rnd-${run}-${randomBytes(8).toString("hex")}`),
        50,
        async (slug) => (await client.post(`${server.url}/api/webhooks/${slug}`, headers(), body)).status,
      );

    // Warm-up: the cache fills to its bound, the pools and the JIT settle.
    const warm = await send(2 * NEGATIVE_CACHE_MAX);
    expect(new Set(warm)).toEqual(new Set([404]));
    expect(unknownSlugsCached()).toBe(NEGATIVE_CACHE_MAX);
    const heapBefore = heapAfterGc();

    const statuses = await send(100_000 - 2 * NEGATIVE_CACHE_MAX);
    client.close();
    expect(new Set(statuses)).toEqual(new Set([404]));
    expect(unknownSlugsCached()).toBeLessThanOrEqual(NEGATIVE_CACHE_MAX);
    // 80,000 more unknown slugs: an unbounded cache would hold ~80,000 more entries (>10 MB); the bounded one holds none more.
    const growth = heapAfterGc() - heapBefore;
    expect(growth).toBeLessThan(5 * 1024 * 1024);
  });
});
