/**
 * The per-tenant token bucket on the webhook path, against the real Redis:
 * under a burst of concurrent posts only the bucket's worth pass, every other
 * post gets a 429 with a Retry-After, and nothing refused is stored.
 * (Redis down is in rate-limit-redis-down.integration.test.ts: it needs its
 * own REDIS_URL before import.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keepAliveClient } from "../../test/http-client.ts";
import type { TestServer } from "../../test/http.ts";
import { createTestTenant, itemEvent, newEventId, WEBHOOK_SERVERS, signedHeaders } from "../../test/webhooks.ts";
import { pool } from "../db.ts";
import { generateSecret } from "./signature.ts";

let server: TestServer;

describe.each(WEBHOOK_SERVERS)("$name", ({ start }) => {
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => server.close());

  describe("rate limit under a burst", () => {
    it("50 concurrent posts to a tenant with rate 5/s and burst 5: about 5 pass, the rest get 429 with Retry-After, only the passed are stored", async () => {
      const rate = 5;
      const tenant = await createTestTenant({ ratePerSecond: rate, burst: 5 });
      const url = `${server.url}/api/webhooks/${tenant.slug}`;
      const client = keepAliveClient(50);
      // Warm-up that spends no token (a bad signature is refused before the limiter): loads the
      // tenant into the lookup cache and opens the connections, so the burst itself is quick and the
      // refill during it small.
      const probe = JSON.stringify(itemEvent("item.created", { id: "probe", version: 1 }));
      const warmUp = await Promise.all(
        Array.from({ length: 50 }, () => client.post(url, signedHeaders(generateSecret(), newEventId(), Math.floor(Date.now() / 1000), probe), probe)),
      );
      expect(warmUp.every((reply) => reply.status === 401)).toBe(true);

      const started = performance.now();
      const replies = await Promise.all(
        Array.from({ length: 50 }, (_, i) => {
          const body = JSON.stringify(itemEvent("item.created", { id: `item-${i}`, version: 1 }));
          return client.post(url, signedHeaders(tenant.secret, newEventId(), Math.floor(Date.now() / 1000), body), body);
        }),
      );
      const elapsedSeconds = (performance.now() - started) / 1000;
      client.close();

      const accepted = replies.filter((reply) => reply.status === 202);
      const limited = replies.filter((reply) => reply.status === 429);
      expect(accepted.length + limited.length).toBe(50);
      // The full bucket, plus whatever refilled while the burst was being answered.
      expect(accepted.length).toBeGreaterThanOrEqual(5);
      expect(accepted.length).toBeLessThanOrEqual(5 + Math.ceil(elapsedSeconds * rate));
      for (const reply of limited) {
        expect(JSON.parse(reply.body).error.code).toBe("rate_limited");
        expect(Number(reply.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      }

      const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE tenant_id = $1", [tenant.id]);
      expect(rows[0]?.n).toBe(accepted.length);
    });
  });
});
