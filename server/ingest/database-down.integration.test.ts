/**
 * "No 2xx is ever sent for an event that is not in the table", checked with
 * the network between the app and PostgreSQL cut while events are flowing.
 *
 * A TCP proxy (test/tcp-proxy.ts) sits between this file's app and its
 * database: server/env.ts reads DATABASE_URL at import, so the proxy starts
 * and DATABASE_URL is rewritten to go through it before any server module is
 * imported (dynamic imports below). The table is read with a client of the
 * test's own, straight to the database.
 *
 * A 503 may be answered for an INSERT that committed just as the connection
 * died: the rule is "nothing acknowledged", not "nothing stored". So the
 * checks are 2xx ⇒ stored with the payload that was sent, and a 503'd event
 * sent again after the outage is accepted or found a duplicate, never lost
 * and never a conflict.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keepAliveClient, type Reply } from "../../test/http-client.ts";
import type { TestServer } from "../../test/http.ts";
import { routeThroughProxy } from "../../test/tcp-proxy.ts";

const { proxy, directUrl } = await routeThroughProxy("DATABASE_URL");

const { createTestTenant, itemEvent, newEventId, WEBHOOK_SERVERS, signedHeaders } = await import("../../test/webhooks.ts");
const { forgetTenant } = await import("./tenant-lookup.ts");

let server: TestServer;
let direct: pg.Client;
beforeAll(async () => {
  direct = new pg.Client({ connectionString: directUrl });
  await direct.connect();
});
afterAll(async () => {
  await proxy.restore();
  await direct.end();
  await proxy.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function eventBody(n: number): string {
  return JSON.stringify(itemEvent("item.created", { id: `item-${n}`, version: n + 1, name: `Item ${n}`, value: n / 4, refs: [`item-${n + 1}`] }));
}

function expectUnavailable(reply: Pick<Reply, "status" | "headers" | "body">): void {
  expect(reply.status).toBe(503);
  expect(Number(reply.headers["retry-after"])).toBeGreaterThanOrEqual(1);
  expect(reply.headers["content-type"]).toBe("application/json");
  expect(JSON.parse(reply.body)).toEqual({ error: { code: "unavailable", message: expect.any(String) } });
}

async function storedPayloads(tenantId: number, ids: string[]): Promise<Map<string, unknown>> {
  const { rows } = await direct.query<{ event_id: string; payload: unknown }>(
    "SELECT event_id, payload FROM events WHERE tenant_id = $1 AND event_id = ANY($2::text[])",
    [tenantId, ids],
  );
  return new Map(rows.map((row) => [row.event_id, row.payload]));
}

describe.each(WEBHOOK_SERVERS)("$name", ({ start }) => {
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => {
    await proxy.restore();
    await server.close();
  });

  describe("PostgreSQL unreachable behind a cut network", () => {
    it("a post while the database is cut off gets 503 with Retry-After and the JSON error body, cached tenant or not", async () => {
      const tenant = await createTestTenant();
      const client = keepAliveClient(1);
      const url = `${server.url}/api/webhooks/${tenant.slug}`;
      const post = (id: string, body: string) => client.post(url, signedHeaders(tenant.secret, id, Math.floor(Date.now() / 1000), body), body);
      try {
        expect((await post(newEventId(), eventBody(1))).status).toBe(202);
        await proxy.cut();
        const id = newEventId();
        const reply = await post(id, eventBody(2));
        expectUnavailable(reply);
        // A refused connection fails at once; the pool's connect timeout (5 s) bounds the rest.
        expect(reply.ms).toBeLessThan(6_000);
        // Uncached, the tenant lookup (Prisma on the same pool) is what meets the outage first.
        await forgetTenant(tenant.slug);
        expectUnavailable(await post(newEventId(), eventBody(3)));
        await proxy.restore();
        expect((await storedPayloads(tenant.id, [id])).size).toBe(0);
      } finally {
        await proxy.restore();
        client.close();
      }
    });

    it("no 2xx for an event that is not in the table, while the network is cut and restored mid-stream", async () => {
      const tenant = await createTestTenant({ ratePerSecond: 1_000_000, burst: 1_000_000 });
      const url = `${server.url}/api/webhooks/${tenant.slug}`;
      const connections = 6;
      const client = keepAliveClient(connections);
      interface Sent {
        id: string;
        body: string;
        startedAt: number;
        finishedAt: number;
        reply: Reply;
      }
      const sent: Sent[] = [];
      let cutDoneAt = Number.POSITIVE_INFINITY;
      let restoredAt = Number.POSITIVE_INFINITY;
      let stop = false;
      let n = 0;

      const lanes = Array.from({ length: connections }, async () => {
        while (!stop) {
          const id = newEventId();
          const body = eventBody(n++);
          const startedAt = performance.now();
          const reply = await client.post(url, signedHeaders(tenant.secret, id, Math.floor(Date.now() / 1000), body), body);
          sent.push({ id, body, startedAt, finishedAt: performance.now(), reply });
        }
      });
      const waitFor = async (condition: () => boolean, what: string, timeoutMs = 20_000) => {
        const deadline = performance.now() + timeoutMs;
        while (!condition()) {
          if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await sleep(10);
        }
      };
      const is2xx = (entry: Sent) => entry.reply.status >= 200 && entry.reply.status < 300;

      try {
        await waitFor(() => sent.filter(is2xx).length >= 30, "30 accepted events before the cut");
        await proxy.cut();
        cutDoneAt = performance.now();
        await waitFor(() => sent.filter((entry) => entry.startedAt > cutDoneAt).length >= 30, "30 answers during the outage");
        await proxy.restore();
        restoredAt = performance.now();
        await waitFor(() => sent.filter((entry) => entry.startedAt > restoredAt && is2xx(entry)).length >= 30, "30 accepted events after the outage");
      } finally {
        stop = true;
        await Promise.all(lanes);
      }

      // Fresh ids only: every answer is an acceptance or "unavailable", nothing else (no 500, no duplicate).
      expect(new Set(sent.map((entry) => entry.reply.status))).toEqual(new Set([202, 503]));
      // Everything sent and answered while the network was down was refused.
      const duringOutage = sent.filter((entry) => entry.startedAt > cutDoneAt && entry.finishedAt < restoredAt);
      expect(duringOutage.length).toBeGreaterThanOrEqual(30);
      for (const entry of duringOutage) expectUnavailable(entry.reply);
      for (const entry of sent.filter((candidate) => candidate.reply.status === 503)) expectUnavailable(entry.reply);

      // 2xx ⇒ stored, with the payload that was sent.
      const acknowledged = sent.filter(is2xx);
      const stored = await storedPayloads(
        tenant.id,
        acknowledged.map((entry) => entry.id),
      );
      for (const entry of acknowledged) expect(stored.get(entry.id), `acknowledged event ${entry.id}`).toEqual(JSON.parse(entry.body));

      // A refused event sent again once the database is back is taken (or found already committed), never lost.
      const refused = sent.filter((entry) => entry.reply.status === 503);
      const retried = await Promise.all(
        refused.map((entry) => client.post(url, signedHeaders(tenant.secret, entry.id, Math.floor(Date.now() / 1000), entry.body), entry.body)),
      );
      for (const reply of retried) expect([200, 202]).toContain(reply.status);
      const storedAfterRetry = await storedPayloads(
        tenant.id,
        refused.map((entry) => entry.id),
      );
      for (const entry of refused) expect(storedAfterRetry.get(entry.id), `retried event ${entry.id}`).toEqual(JSON.parse(entry.body));
      client.close();
    });

    it("a database that accepts connections but never answers gets a 503 within the pool's connect timeout", async () => {
      const tenant = await createTestTenant();
      const client = keepAliveClient(1);
      const url = `${server.url}/api/webhooks/${tenant.slug}`;
      const post = (id: string, body: string) => client.post(url, signedHeaders(tenant.secret, id, Math.floor(Date.now() / 1000), body), body);
      try {
        expect((await post(newEventId(), eventBody(1))).status).toBe(202);
        await proxy.blackhole();
        // The tenant is cached: the request gets as far as storing, which waits for a connection.
        const storing = await post(newEventId(), eventBody(2));
        expectUnavailable(storing);
        expect(storing.ms).toBeLessThan(7_500);
        // Uncached: the tenant lookup (Prisma on the same pool) waits for the connection instead.
        await forgetTenant(tenant.slug);
        const lookingUp = await post(newEventId(), eventBody(3));
        expectUnavailable(lookingUp);
        expect(lookingUp.ms).toBeLessThan(7_500);
      } finally {
        await proxy.restore();
        client.close();
      }
      // The pool recovers once the database answers again.
      const body = eventBody(4);
      const recovered = await fetch(url, { method: "POST", headers: signedHeaders(tenant.secret, newEventId(), Math.floor(Date.now() / 1000), body), body });
      expect(recovered.status).toBe(202);
    });
  });
});
