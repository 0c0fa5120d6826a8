/**
 * The rate limiter fails open: with Redis unreachable, signed events are
 * still admitted and stored (losing rate limiting for a while is better than
 * losing events), each such admission is counted in
 * tidemark_rate_limiter_unavailable_total, and the answer is not held up
 * waiting for Redis. When Redis is back, limiting resumes.
 *
 * server/env.ts reads REDIS_URL at import, so it is pointed at a closed port
 * (a proxy to the real Redis, cut from the start) before any server module is
 * imported; restoring the proxy brings Redis back on the same address.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../../test/http.ts";
import { startTcpProxy } from "../../test/tcp-proxy.ts";

const realRedis = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const proxy = await startTcpProxy({ host: realRedis.hostname, port: Number(realRedis.port || 6379) }, { startCut: true });
process.env.REDIS_URL = `redis://127.0.0.1:${proxy.port}`;

const { createTestTenant, itemEvent, newEventId, WEBHOOK_SERVERS, signedHeaders } = await import("../../test/webhooks.ts");
const { pool } = await import("../db.ts");
const { metrics } = await import("../metrics.ts");
const { store } = await import("../redis.ts");

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Until the app's Redis client has reconnected through the restored proxy. */
async function redisBack(): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await store.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

let server: TestServer;
afterAll(async () => {
  // test/setup-integration.ts clears this file's keys through the app's client afterwards.
  await proxy.restore();
  await redisBack();
});

async function unavailableCount(): Promise<number> {
  return (await metrics.rateLimiterUnavailable.get()).values[0]?.value ?? 0;
}

function post(tenant: { slug: string; secret: string }, item: string): Promise<Response> {
  const body = JSON.stringify(itemEvent("item.created", { id: item, version: 1 }));
  return fetch(`${server.url}/api/webhooks/${tenant.slug}`, {
    method: "POST",
    headers: signedHeaders(tenant.secret, newEventId(), Math.floor(Date.now() / 1000), body),
    body,
  });
}

describe.each(WEBHOOK_SERVERS)("$name", ({ start }) => {
  beforeAll(async () => {
    server = await start();
    await proxy.cut(); // each server's run starts with Redis away (the previous run's last test restored it)
  });
  afterAll(async () => server.close());

  describe("rate limiter with Redis down", () => {
    it("posts are admitted, stored and counted as unlimited, each answered within 2 s", async () => {
      // Burst 1 and a trickle of refill: with Redis up, only the first of these would pass.
      const tenant = await createTestTenant({ ratePerSecond: 0.01, burst: 1 });
      const before = await unavailableCount();
      for (const item of ["a", "b", "c"]) {
        const started = performance.now();
        const response = await post(tenant, item);
        expect(response.status).toBe(202);
        expect(performance.now() - started).toBeLessThan(2_000);
      }
      const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE tenant_id = $1", [tenant.id]);
      expect(rows[0]?.n).toBe(3);
      expect((await unavailableCount()) - before).toBe(3);
    });

    it("limiting resumes once Redis is back", async () => {
      await proxy.restore();
      await redisBack();
      const tenant = await createTestTenant({ ratePerSecond: 0.01, burst: 1 });
      const before = await unavailableCount();
      expect((await post(tenant, "a")).status).toBe(202);
      expect((await post(tenant, "b")).status).toBe(429);
      expect(await unavailableCount()).toBe(before);
    });
  });
});
