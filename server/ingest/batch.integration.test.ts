/**
 * The batch endpoint of docs/design.md over real HTTP: one result per event in
 * input order, one bad event does not sink the rest, the answer's status,
 * the 1,000-event and 4 MiB bounds, and the rate-limit cost of a batch. Each
 * test also checks what was stored: exactly the accepted events.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestTenant, itemEvent, newEventId, postSigned, WEBHOOK_SERVERS } from "../../test/webhooks.ts";
import type { TestServer } from "../../test/http.ts";
import { pool } from "../db.ts";

let server: TestServer;

type Tenant = Awaited<ReturnType<typeof createTestTenant>>;

function event(id: string | undefined, item: string, version = 1, extra: Record<string, unknown> = {}) {
  return { ...(id === undefined ? {} : { id }), ...itemEvent("item.updated", { id: item, version, name: `Item ${item}` }), ...extra };
}

function postBatch(tenant: Tenant, events: unknown[]): Promise<Response> {
  return postSigned({ url: `${server.url}/api/webhooks/${tenant.slug}/batch`, secret: tenant.secret, body: JSON.stringify({ events }) });
}

async function stored(tenantId: number): Promise<{ event_id: string; version: number }[]> {
  const { rows } = await pool.query<{ event_id: string; version: number }>("SELECT event_id, version FROM events WHERE tenant_id = $1 ORDER BY event_id", [
    tenantId,
  ]);
  return rows;
}

describe.each(WEBHOOK_SERVERS)("$name", ({ start }) => {
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => server.close());

  describe("batch webhook", () => {
    it("a mixed batch gets one result per event, in input order, and stores exactly the accepted events", async () => {
      const tenant = await createTestTenant();
      expect((await postBatch(tenant, [event("stored-same", "s", 1), event("stored-other", "o", 1)])).status).toBe(202);

      const batch = [
        event("new-1", "a", 1), // accepted
        event("stored-same", "s", 1), // duplicate of a stored event
        event("stored-other", "o", 2), // conflict with a stored event
        event("bad-envelope", "b", -1), // invalid: version
        event(undefined, "c", 1), // invalid: no id
        event("twice-same", "d", 1), // accepted
        event("twice-same", "d", 1), // duplicate of the one just before, in this batch
        event("twice-other", "e", 1), // accepted
        event("twice-other", "e", 9), // conflict with the one just before, in this batch
      ];
      const response = await postBatch(tenant, batch);
      expect(response.status).toBe(202);
      const { results } = await response.json();
      expect(results).toEqual([
        { id: "new-1", status: "accepted" },
        { id: "stored-same", status: "duplicate" },
        { id: "stored-other", status: "conflict" },
        {
          id: "bad-envelope",
          status: "invalid",
          error: {
            code: "invalid_event",
            message: expect.stringContaining("data.version"),
            details: [{ path: "data.version", message: "must be a positive integer" }],
          },
        },
        {
          id: null,
          status: "invalid",
          error: { code: "invalid_event", message: expect.stringContaining("id"), details: [{ path: "id", message: expect.any(String) }] },
        },
        { id: "twice-same", status: "accepted" },
        { id: "twice-same", status: "duplicate" },
        { id: "twice-other", status: "accepted" },
        { id: "twice-other", status: "conflict" },
      ]);
      // Stored: the two from before (unchanged) and the three accepted, each once, first payload kept.
      expect(await stored(tenant.id)).toEqual([
        { event_id: "new-1", version: 1 },
        { event_id: "stored-other", version: 1 },
        { event_id: "stored-same", version: 1 },
        { event_id: "twice-other", version: 1 },
        { event_id: "twice-same", version: 1 },
      ]);
    });

    it("200 when no event in the batch is new (duplicates and invalid ones only)", async () => {
      const tenant = await createTestTenant();
      expect((await postBatch(tenant, [event("x", "x")])).status).toBe(202);
      const response = await postBatch(tenant, [event("x", "x"), event("y", "y", 0)]);
      expect(response.status).toBe(200);
      expect((await response.json()).results.map((result: { status: string }) => result.status)).toEqual(["duplicate", "invalid"]);
      expect(await stored(tenant.id)).toEqual([{ event_id: "x", version: 1 }]);
    });

    it("422 when no event in the batch is valid, with each event's result, and nothing stored", async () => {
      const tenant = await createTestTenant();
      const response = await postBatch(tenant, [event("v0", "a", 0), { id: "no-type", data: { id: "a", version: 1 } }, "not an object"]);
      expect(response.status).toBe(422);
      const json = await response.json();
      expect(json.error.code).toBe("invalid_event");
      expect(json.results).toEqual([
        expect.objectContaining({ id: "v0", status: "invalid" }),
        expect.objectContaining({ id: "no-type", status: "invalid" }),
        expect.objectContaining({ id: null, status: "invalid" }),
      ]);
      expect(await stored(tenant.id)).toEqual([]);
    });

    it("1,000 events are accepted", async () => {
      const tenant = await createTestTenant({ burst: 5_000 });
      const events = Array.from({ length: 1_000 }, (_, i) => event(`e-${i}`, `item-${i}`));
      const response = await postBatch(tenant, events);
      expect(response.status).toBe(202);
      expect((await response.json()).results).toHaveLength(1_000);
      expect(await stored(tenant.id)).toHaveLength(1_000);
    });

    it("422 for more than 1,000 events, and nothing stored", async () => {
      const tenant = await createTestTenant({ burst: 5_000 });
      const events = Array.from({ length: 1_001 }, (_, i) => event(`e-${i}`, `item-${i}`));
      const response = await postBatch(tenant, events);
      expect(response.status).toBe(422);
      const json = await response.json();
      expect(json.error.code).toBe("invalid_event");
      expect(json.error.details).toEqual([{ path: "events", message: "must hold at most 1000 events" }]);
      expect(await stored(tenant.id)).toEqual([]);
    });

    describe("the 4 MiB body limit", () => {
      const limit = 4 * 1024 * 1024;
      /** A valid one-event batch padded (with a key the envelope ignores) to exactly `bytes`. */
      function batchOfSize(bytes: number): string {
        const empty = JSON.stringify({ events: [event("big", "big")], padding: "" });
        return JSON.stringify({ events: [event("big", "big")], padding: "x".repeat(bytes - Buffer.byteLength(empty)) });
      }

      it("a body of exactly 4 MiB is accepted", async () => {
        const tenant = await createTestTenant();
        const body = batchOfSize(limit);
        expect(Buffer.byteLength(body)).toBe(limit);
        const response = await postSigned({ url: `${server.url}/api/webhooks/${tenant.slug}/batch`, secret: tenant.secret, body });
        expect(response.status).toBe(202);
        expect(await stored(tenant.id)).toHaveLength(1);
      });

      it("413 for a body one byte over 4 MiB, and nothing stored", async () => {
        const tenant = await createTestTenant();
        const body = batchOfSize(limit + 1);
        const response = await postSigned({ url: `${server.url}/api/webhooks/${tenant.slug}/batch`, secret: tenant.secret, body });
        expect(response.status).toBe(413);
        expect((await response.json()).error.code).toBe("payload_too_large");
        expect(await stored(tenant.id)).toEqual([]);
      });
    });

    describe("rate limit", () => {
      it("a batch costs its number of valid events: 8 pass a burst of 10, the next 8 get 429 and nothing of them is stored", async () => {
        // 0.01 tokens/s: nothing refills during the test.
        const tenant = await createTestTenant({ ratePerSecond: 0.01, burst: 10 });
        const eight = (prefix: string) => Array.from({ length: 8 }, (_, i) => event(`${prefix}-${i}`, `item-${i}`));
        expect((await postBatch(tenant, eight("first"))).status).toBe(202);

        const limited = await postBatch(tenant, eight("second"));
        expect(limited.status).toBe(429);
        expect((await limited.json()).error.code).toBe("rate_limited");
        // 6 tokens short at 0.01/s is 600 s, jittered upwards by at most half.
        const retryAfter = Number(limited.headers.get("retry-after"));
        expect(retryAfter).toBeGreaterThanOrEqual(600);
        expect(retryAfter).toBeLessThanOrEqual(900);
        expect((await stored(tenant.id)).map((row) => row.event_id).filter((id) => id.startsWith("second"))).toEqual([]);

        // Two valid events among invalid ones cost two tokens, which are left: the invalid ones are free.
        const mixed = [event("third-0", "a"), event("third-1", "b"), ...Array.from({ length: 6 }, (_, i) => event(`bad-${i}`, "c", 0))];
        const response = await postBatch(tenant, mixed);
        expect(response.status).toBe(202);
        expect(await stored(tenant.id)).toHaveLength(10);
      });
    });

    it("the batch's own webhook-id is not stored as an event", async () => {
      const tenant = await createTestTenant();
      const batchId = newEventId();
      const body = JSON.stringify({ events: [event("inner", "a")] });
      const response = await postSigned({ url: `${server.url}/api/webhooks/${tenant.slug}/batch`, secret: tenant.secret, body, id: batchId });
      expect(response.status).toBe(202);
      expect(await stored(tenant.id)).toEqual([{ event_id: "inner", version: 1 }]);
    });
  });
});
