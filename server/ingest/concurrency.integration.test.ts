/**
 * Duplicate delivery and lock order under real concurrency: many keep-alive
 * connections to the real route handlers, one PostgreSQL. Storage alone
 * decides what is new (ON CONFLICT), so a re-sent event racing its first
 * delivery is stored once and acknowledged as new once; batches that share
 * ids insert in one order, so they never deadlock.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keepAliveClient, mapConcurrent } from "../../test/http-client.ts";
import type { TestServer } from "../../test/http.ts";
import { createTestTenant, itemEvent, WEBHOOK_SERVERS, signedHeaders } from "../../test/webhooks.ts";
import { pool } from "../db.ts";
import { seededRandom, shuffled } from "../lib/random.ts";

let server: TestServer;

const unlimited = { ratePerSecond: 1_000_000, burst: 1_000_000 };

describe.each(WEBHOOK_SERVERS)("$name", ({ start }) => {
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => server.close());

  describe("concurrent ingestion", () => {
    it("1,000 posts over 50 keep-alive connections, 30% re-sends: each of the 700 ids stored once and acknowledged as new once", async () => {
      const tenant = await createTestTenant(unlimited);
      const url = `${server.url}/api/webhooks/${tenant.slug}`;
      const random = seededRandom(20261127);
      const distinct = Array.from({ length: 700 }, (_, i) => ({
        id: `evt-${i}`,
        body: JSON.stringify(itemEvent("item.updated", { id: `item-${i % 97}`, version: i + 1, value: i })),
      }));
      const resends = Array.from({ length: 300 }, () => distinct[Math.floor(random() * distinct.length)] as (typeof distinct)[number]);
      const posts = shuffled([...distinct, ...resends], random);

      const client = keepAliveClient(50);
      let inFlight = 0;
      let maxInFlight = 0;
      const replies = await mapConcurrent(posts, 50, async ({ id, body }) => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        const reply = await client.post(url, signedHeaders(tenant.secret, id, Math.floor(Date.now() / 1000), body), body);
        inFlight--;
        return { id, status: reply.status, localPort: reply.localPort };
      });
      client.close();

      expect(maxInFlight).toBe(50);
      // Keep-alive: 1,000 requests rode on at most 50 connections.
      const ports = new Set(replies.map((reply) => reply.localPort));
      expect(ports.size).toBeLessThanOrEqual(50);
      expect(ports.size).toBeGreaterThan(1);

      const statuses = replies.map((reply) => reply.status);
      expect(statuses.filter((status) => status !== 202 && status !== 200)).toEqual([]);
      expect(statuses.filter((status) => status === 202)).toHaveLength(700);
      // Each id is acknowledged as new exactly once, whichever of its deliveries won.
      const acceptedIds = replies.filter((reply) => reply.status === 202).map((reply) => reply.id);
      expect(new Set(acceptedIds).size).toBe(700);

      const { rows } = await pool.query<{ event_id: string; n: number }>(
        "SELECT event_id, count(*)::int AS n FROM events WHERE tenant_id = $1 GROUP BY event_id",
        [tenant.id],
      );
      expect(rows).toHaveLength(700);
      expect(rows.every((row) => row.n === 1)).toBe(true);
      expect(new Set(rows.map((row) => row.event_id))).toEqual(new Set(distinct.map((event) => event.id)));
    });

    it("two concurrent batches sharing ids in opposite orders never deadlock, and store each id once (10 rounds)", async () => {
      const tenant = await createTestTenant(unlimited);
      const url = `${server.url}/api/webhooks/${tenant.slug}/batch`;
      const client = keepAliveClient(2);
      for (let round = 0; round < 10; round++) {
        const events = Array.from({ length: 300 }, (_, i) => ({
          id: `r${round}-e${String(i).padStart(3, "0")}`,
          ...itemEvent("item.updated", { id: `item-${i}`, version: round * 1_000 + i + 1 }),
        }));
        // Each batch holds 200 of the 300 ids; 100 are shared, and the batches list them in opposite orders.
        const forward = events.slice(0, 200);
        const backward = events.slice(100).reverse();
        const send = (batch: typeof events) => {
          const body = JSON.stringify({ events: batch });
          return client.post(url, signedHeaders(tenant.secret, `batch-${round}-${batch[0]?.id}`, Math.floor(Date.now() / 1000), body), body);
        };
        const replies = await Promise.all([send(forward), send(backward)]);
        for (const reply of replies) expect(reply.status, `round ${round}: ${reply.body.slice(0, 200)}`).toBe(202);

        // Every id is accepted by exactly one of the two batches; the other sees a duplicate.
        const accepted = replies.flatMap((reply) =>
          (JSON.parse(reply.body) as { results: { id: string; status: string }[] }).results
            .filter((result) => result.status === "accepted")
            .map((result) => result.id),
        );
        expect(accepted.sort()).toEqual(events.map((event) => event.id).sort());
        const statuses = replies.flatMap((reply) => (JSON.parse(reply.body) as { results: { status: string }[] }).results.map((result) => result.status));
        expect(statuses.filter((status) => status === "duplicate")).toHaveLength(100);
      }
      client.close();

      const { rows } = await pool.query<{ total: number; distinct_ids: number }>(
        "SELECT count(*)::int AS total, count(DISTINCT event_id)::int AS distinct_ids FROM events WHERE tenant_id = $1",
        [tenant.id],
      );
      expect(rows[0]).toEqual({ total: 3_000, distinct_ids: 3_000 });
    });
  });
});
