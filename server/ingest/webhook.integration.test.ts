/**
 * The webhook contract of docs/design.md, row by row, over real HTTP against the
 * real route handlers, PostgreSQL and Redis. Each status has its own test,
 * and each checks what was stored: nothing, except for accepted events.
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { createTestTenant, itemEvent, newEventId, postSigned, WEBHOOK_SERVERS, signedHeaders } from "../../test/webhooks.ts";
import type { TestServer } from "../../test/http.ts";
import { TIMESTAMP_TOLERANCE_SECONDS } from "./signature.ts";

let server: TestServer;

async function storedCount(tenantId: number): Promise<number> {
  const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE tenant_id = $1", [tenantId]);
  return rows[0]?.n ?? -1;
}

async function totalStored(): Promise<number> {
  const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events");
  return rows[0]?.n ?? -1;
}

const created = (id = "item-1", version = 1) => JSON.stringify(itemEvent("item.created", { id, version, name: "One", value: 1.5 }));

describe.each(WEBHOOK_SERVERS)("$name", ({ start }) => {
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => server.close());

  describe("single-event webhook", () => {
    it("202: stores a signed event, and only then answers", async () => {
      const tenant = await createTestTenant();
      const id = newEventId();
      const response = await postSigned({ url: `${server.url}/api/webhooks/${tenant.slug}`, secret: tenant.secret, body: created(), id });
      expect(response.status).toBe(202);
      expect(await response.json()).toEqual({ status: "accepted" });
      const { rows } = await pool.query("SELECT event_id, type, item_id, version, status FROM events WHERE tenant_id = $1", [tenant.id]);
      expect(rows).toEqual([{ event_id: id, type: "item.created", item_id: "item-1", version: 1, status: "pending" }]);
    });

    it("200 duplicate: the same id and payload again changes nothing", async () => {
      const tenant = await createTestTenant();
      const id = newEventId();
      const post = () => postSigned({ url: `${server.url}/api/webhooks/${tenant.slug}`, secret: tenant.secret, body: created(), id });
      expect((await post()).status).toBe(202);
      const again = await post();
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual({ status: "duplicate" });
      expect(await storedCount(tenant.id)).toBe(1);
    });

    it("200 duplicate: the same event with keys in another order and other spacing is the same payload", async () => {
      const tenant = await createTestTenant();
      const id = newEventId();
      const url = `${server.url}/api/webhooks/${tenant.slug}`;
      expect((await postSigned({ url, secret: tenant.secret, id, body: created() })).status).toBe(202);
      const reordered = `{ "data": {"value": 1.5, "name": "One", "version": 1, "id": "item-1"}, "timestamp": "2026-11-27T10:00:00Z", "type": "item.created" }`;
      expect((await postSigned({ url, secret: tenant.secret, id, body: reordered })).status).toBe(200);
    });

    it("409: the same id with a different payload is refused and the stored event is kept", async () => {
      const tenant = await createTestTenant();
      const id = newEventId();
      const url = `${server.url}/api/webhooks/${tenant.slug}`;
      expect((await postSigned({ url, secret: tenant.secret, id, body: created("item-1", 1) })).status).toBe(202);
      const response = await postSigned({ url, secret: tenant.secret, id, body: created("item-1", 2) });
      expect(response.status).toBe(409);
      expect((await response.json()).error.code).toBe("conflict");
      const { rows } = await pool.query("SELECT version FROM events WHERE tenant_id = $1", [tenant.id]);
      expect(rows).toEqual([{ version: 1 }]);
    });

    it("400: malformed JSON", async () => {
      const tenant = await createTestTenant();
      const response = await postSigned({ url: `${server.url}/api/webhooks/${tenant.slug}`, secret: tenant.secret, body: '{"type": "item.created",' });
      expect(response.status).toBe(400);
      expect((await response.json()).error.code).toBe("invalid_json");
      expect(await storedCount(tenant.id)).toBe(0);
    });

    it.each(["webhook-id", "webhook-timestamp", "webhook-signature"])("400: missing %s header", async (missing) => {
      const tenant = await createTestTenant();
      const body = created();
      const headers = signedHeaders(tenant.secret, newEventId(), Math.floor(Date.now() / 1000), body);
      delete headers[missing];
      const response = await fetch(`${server.url}/api/webhooks/${tenant.slug}`, { method: "POST", headers, body });
      expect(response.status).toBe(400);
      const json = await response.json();
      expect(json.error).toEqual({ code: "missing_header", message: `the ${missing} header is required` });
      expect(await storedCount(tenant.id)).toBe(0);
    });

    it("401: a signature made with another secret", async () => {
      const tenant = await createTestTenant();
      const other = await createTestTenant();
      const response = await postSigned({ url: `${server.url}/api/webhooks/${tenant.slug}`, secret: other.secret, body: created() });
      expect(response.status).toBe(401);
      expect((await response.json()).error.code).toBe("invalid_signature");
      expect(await storedCount(tenant.id)).toBe(0);
    });

    it("401: a tampered body", async () => {
      const tenant = await createTestTenant();
      const body = created();
      const headers = signedHeaders(tenant.secret, newEventId(), Math.floor(Date.now() / 1000), body);
      const tampered = body.replace('"value":1.5', '"value":1500');
      const response = await fetch(`${server.url}/api/webhooks/${tenant.slug}`, { method: "POST", headers, body: tampered });
      expect(response.status).toBe(401);
      expect(await storedCount(tenant.id)).toBe(0);
    });

    it("401: a timestamp more than 5 minutes old (replay)", async () => {
      const tenant = await createTestTenant();
      // The exact boundary is unit-tested with an injected clock (signature.test.ts); over HTTP a
      // margin keeps a slow first request (a cold route compile) from crossing it.
      const old = Math.floor(Date.now() / 1000) - TIMESTAMP_TOLERANCE_SECONDS - 60;
      const response = await postSigned({ url: `${server.url}/api/webhooks/${tenant.slug}`, secret: tenant.secret, body: created(), timestamp: old });
      expect(response.status).toBe(401);
      expect((await response.json()).error.code).toBe("timestamp_out_of_range");
      expect(await storedCount(tenant.id)).toBe(0);
    });

    it("401: a timestamp more than 5 minutes in the future", async () => {
      const tenant = await createTestTenant();
      const future = Math.floor(Date.now() / 1000) + TIMESTAMP_TOLERANCE_SECONDS + 60;
      const response = await postSigned({ url: `${server.url}/api/webhooks/${tenant.slug}`, secret: tenant.secret, body: created(), timestamp: future });
      expect(response.status).toBe(401);
      expect(await storedCount(tenant.id)).toBe(0);
    });

    it("404: an unknown tenant", async () => {
      const tenant = await createTestTenant();
      const before = await totalStored();
      const response = await postSigned({ url: `${server.url}/api/webhooks/no-such-tenant`, secret: tenant.secret, body: created() });
      expect(response.status).toBe(404);
      expect((await response.json()).error.code).toBe("tenant_not_found");
      expect(await totalStored()).toBe(before);
    });

    it("413: a body over the limit, refused by its Content-Length before it is read", async () => {
      const tenant = await createTestTenant();
      const body = JSON.stringify({ ...itemEvent("item.created", { id: "big", version: 1 }), padding: "x".repeat(300 * 1024) });
      const response = await postSigned({ url: `${server.url}/api/webhooks/${tenant.slug}`, secret: tenant.secret, body });
      expect(response.status).toBe(413);
      expect((await response.json()).error.code).toBe("payload_too_large");
      expect(await storedCount(tenant.id)).toBe(0);
    });

    it("413: a chunked body with no Content-Length is cut off once it passes the limit", async () => {
      const tenant = await createTestTenant();
      const headers = signedHeaders(tenant.secret, newEventId(), Math.floor(Date.now() / 1000), "unused");
      const chunk = Buffer.alloc(64 * 1024, "x");
      // node:http rather than fetch: it reports the answer while the upload is still going,
      // which is the point (fetch only reports once its upload has finished).
      const { status, chunksSent } = await new Promise<{ status: number; chunksSent: number }>((resolve, reject) => {
        let chunksSent = 0;
        let answered = false;
        const request = http.request(`${server.url}/api/webhooks/${tenant.slug}`, { method: "POST", headers }, (response) => {
          answered = true;
          response.resume();
          response.on("end", () => resolve({ status: response.statusCode ?? 0, chunksSent }));
        });
        request.on("error", (error) => (answered ? undefined : reject(error)));
        const pump = () => {
          // 1,000 chunks is 64 MiB, far past the 256 KiB limit: the server must answer long before.
          while (!answered && chunksSent < 1_000) {
            chunksSent++;
            if (!request.write(chunk)) return void request.once("drain", pump);
          }
          request.end();
        };
        pump();
      });
      expect(status).toBe(413);
      expect(chunksSent).toBeLessThan(1_000);
      expect(await storedCount(tenant.id)).toBe(0);
    });

    it("415: a body that is not declared as JSON", async () => {
      const tenant = await createTestTenant();
      const response = await postSigned({
        url: `${server.url}/api/webhooks/${tenant.slug}`,
        secret: tenant.secret,
        body: created(),
        headers: { "content-type": "text/plain" },
      });
      expect(response.status).toBe(415);
      expect((await response.json()).error.code).toBe("unsupported_media_type");
      expect(await storedCount(tenant.id)).toBe(0);
    });

    it("422: an envelope that fails validation names the field", async () => {
      const tenant = await createTestTenant();
      const body = JSON.stringify(itemEvent("item.updated", { id: "item-1", version: -3 }));
      const response = await postSigned({ url: `${server.url}/api/webhooks/${tenant.slug}`, secret: tenant.secret, body });
      expect(response.status).toBe(422);
      const json = await response.json();
      expect(json.error.code).toBe("invalid_event");
      expect(json.error.details).toContainEqual({ path: "data.version", message: "must be a positive integer" });
      expect(await storedCount(tenant.id)).toBe(0);
    });

    it("422: a NUL character in a text field, which PostgreSQL could not store", async () => {
      const tenant = await createTestTenant();
      const body = JSON.stringify(itemEvent("item.created", { id: "item-1", version: 1, name: "bad\u0000name" }));
      const response = await postSigned({ url: `${server.url}/api/webhooks/${tenant.slug}`, secret: tenant.secret, body });
      expect(response.status).toBe(422);
      expect((await response.json()).error.details).toContainEqual({ path: "data.name", message: "must not contain the NUL character (U+0000)" });
      expect(await storedCount(tenant.id)).toBe(0);
    });

    it("422: an unknown event type", async () => {
      const tenant = await createTestTenant();
      const body = JSON.stringify({ type: "item.exploded", timestamp: "2026-11-27T10:00:00Z", data: { id: "a", version: 1 } });
      const response = await postSigned({ url: `${server.url}/api/webhooks/${tenant.slug}`, secret: tenant.secret, body });
      expect(response.status).toBe(422);
      expect((await response.json()).error.details[0].path).toBe("type");
      expect(await storedCount(tenant.id)).toBe(0);
    });

    it("429: over the rate limit, with a Retry-After", async () => {
      const tenant = await createTestTenant({ ratePerSecond: 0.01, burst: 1 });
      const url = `${server.url}/api/webhooks/${tenant.slug}`;
      expect((await postSigned({ url, secret: tenant.secret, body: created("a") })).status).toBe(202);
      const limited = await postSigned({ url, secret: tenant.secret, body: created("b") });
      expect(limited.status).toBe(429);
      expect((await limited.json()).error.code).toBe("rate_limited");
      // One token per 100 s: the earliest useful retry is 100 s away, jittered upwards by at most half.
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(100);
      expect(Number(limited.headers.get("retry-after"))).toBeLessThanOrEqual(150);
      expect(await storedCount(tenant.id)).toBe(1);
    });

    it("429: over the daily quota, with a Retry-After until midnight UTC", async () => {
      const tenant = await createTestTenant({ dailyQuota: 2 });
      const url = `${server.url}/api/webhooks/${tenant.slug}`;
      for (const item of ["a", "b"]) expect((await postSigned({ url, secret: tenant.secret, body: created(item) })).status).toBe(202);
      const over = await postSigned({ url, secret: tenant.secret, body: created("c") });
      expect(over.status).toBe(429);
      expect((await over.json()).error.code).toBe("quota_exceeded");
      const now = new Date();
      const secondsToMidnight = (Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime()) / 1000;
      expect(Number(over.headers.get("retry-after"))).toBeGreaterThanOrEqual(Math.floor(secondsToMidnight) - 5);
      expect(await storedCount(tenant.id)).toBe(2);
    });

    it("a request with a bad signature spends no tokens", async () => {
      const tenant = await createTestTenant({ ratePerSecond: 0.01, burst: 1 });
      const stranger = await createTestTenant();
      const url = `${server.url}/api/webhooks/${tenant.slug}`;
      for (let i = 0; i < 5; i++) expect((await postSigned({ url, secret: stranger.secret, body: created() })).status).toBe(401);
      expect((await postSigned({ url, secret: tenant.secret, body: created() })).status).toBe(202);
    });
  });
});
