/**
 * Interoperability with the Standard Webhooks reference library
 * (`standardwebhooks` on npm), both ways: what the library signs, Tidemark
 * accepts; what Tidemark signs (server/ingest/signature.ts), the library
 * verifies. The same with the `svix` library, whose senders use svix-id,
 * svix-timestamp and svix-signature (aliases of the webhook-* headers).
 * Plus the signature header's multi-entry form and secret rotation, over
 * real HTTP against both servers.
 */
import { Webhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestTenant, itemEvent, newEventId, WEBHOOK_SERVERS } from "../../test/webhooks.ts";
import type { TestServer } from "../../test/http.ts";
import { pool } from "../db.ts";
import { rotateSecret } from "../tenants/service.ts";
import { generateSecret, sign } from "./signature.ts";

let server: TestServer;

const nowSeconds = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function eventBody(item = "item-1", version = 1): string {
  return JSON.stringify(itemEvent("item.created", { id: item, version, name: "One", value: 1.5 }));
}

/** Headers exactly as a sender using the reference library builds them. */
function libraryHeaders(secret: string, id: string, timestamp: number, body: string, signature?: string): Record<string, string> {
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signature ?? new Webhook(secret).sign(id, new Date(timestamp * 1000), body),
  };
}

async function post(path: string, headers: Record<string, string>, body: string): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: "POST", headers, body });
}

async function storedIds(tenantId: number): Promise<string[]> {
  const { rows } = await pool.query<{ event_id: string }>("SELECT event_id FROM events WHERE tenant_id = $1 ORDER BY event_id", [tenantId]);
  return rows.map((row) => row.event_id);
}

describe.each(WEBHOOK_SERVERS)("$name", ({ start }) => {
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => server.close());

  describe("the reference library as the sender", () => {
    it("a single event it signs is accepted and stored", async () => {
      const tenant = await createTestTenant();
      const id = newEventId();
      const body = eventBody();
      const response = await post(`/api/webhooks/${tenant.slug}`, libraryHeaders(tenant.secret, id, nowSeconds(), body), body);
      expect(response.status).toBe(202);
      expect(await storedIds(tenant.id)).toEqual([id]);
    });

    it("a batch it signs is accepted and every event stored", async () => {
      const tenant = await createTestTenant();
      const events = ["a", "b", "c"].map((item) => ({ id: `evt-${item}`, ...itemEvent("item.created", { id: item, version: 1 }) }));
      const body = JSON.stringify({ events });
      const response = await post(`/api/webhooks/${tenant.slug}/batch`, libraryHeaders(tenant.secret, newEventId(), nowSeconds(), body), body);
      expect(response.status).toBe(202);
      expect((await response.json()).results).toEqual(events.map((event) => ({ id: event.id, status: "accepted" })));
      expect(await storedIds(tenant.id)).toEqual(["evt-a", "evt-b", "evt-c"]);
    });
  });

  describe("a sender using the svix library", () => {
    const svixHeaders = (prefix: "svix" | "webhook", secret: string, id: string, timestamp: number, body: string) => ({
      "content-type": "application/json",
      [`${prefix}-id`]: id,
      [`${prefix}-timestamp`]: String(timestamp),
      [`${prefix}-signature`]: new SvixWebhook(secret).sign(id, new Date(timestamp * 1000), body),
    });

    it.each(["svix", "webhook"] as const)("a single event it signs, under the %s-* headers, is accepted and stored", async (prefix) => {
      const tenant = await createTestTenant();
      const id = newEventId();
      const body = eventBody();
      const response = await post(`/api/webhooks/${tenant.slug}`, svixHeaders(prefix, tenant.secret, id, nowSeconds(), body), body);
      expect(response.status).toBe(202);
      expect(await storedIds(tenant.id)).toEqual([id]);
    });

    it.each(["svix", "webhook"] as const)("a batch it signs, under the %s-* headers, is accepted and every event stored", async (prefix) => {
      const tenant = await createTestTenant();
      const events = ["a", "b"].map((item) => ({ id: `svix-${item}`, ...itemEvent("item.created", { id: item, version: 1 }) }));
      const body = JSON.stringify({ events });
      const response = await post(`/api/webhooks/${tenant.slug}/batch`, svixHeaders(prefix, tenant.secret, newEventId(), nowSeconds(), body), body);
      expect(response.status).toBe(202);
      expect(await storedIds(tenant.id)).toEqual(["svix-a", "svix-b"]);
    });

    it("svix-* headers signed with another secret are refused with 401, and nothing is stored", async () => {
      const tenant = await createTestTenant();
      const body = eventBody();
      const response = await post(`/api/webhooks/${tenant.slug}`, svixHeaders("svix", generateSecret(), newEventId(), nowSeconds(), body), body);
      expect(response.status).toBe(401);
      expect((await response.json()).error.code).toBe("invalid_signature");
      expect(await storedIds(tenant.id)).toEqual([]);
    });

    it("what Tidemark signs, svix's verifier accepts under the svix-* headers", () => {
      const secret = generateSecret();
      const id = newEventId();
      const timestamp = nowSeconds();
      const body = eventBody();
      const headers = { "svix-id": id, "svix-timestamp": String(timestamp), "svix-signature": sign(secret, id, timestamp, body) };
      expect(() => new SvixWebhook(secret).verify(body, headers)).not.toThrow();
      expect(() => new SvixWebhook(generateSecret()).verify(body, headers)).toThrow();
    });
  });

  describe("the reference library as the verifier", () => {
    it("a signature made by sign() verifies with Webhook.verify", () => {
      const secret = generateSecret();
      const id = newEventId();
      const timestamp = nowSeconds();
      const body = eventBody();
      const headers = { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": sign(secret, id, timestamp, body) };
      expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
      // The same headers under another secret do not: the library really checked the MAC.
      expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow("No matching signature found");
    });

    it("sign() and the library produce the same header for the same message", () => {
      const secret = generateSecret();
      const timestamp = nowSeconds();
      expect(sign(secret, "msg_1", timestamp, eventBody())).toBe(new Webhook(secret).sign("msg_1", new Date(timestamp * 1000), eventBody()));
    });
  });

  describe("refused signatures", () => {
    const cases: {
      name: string;
      code: string;
      headers: (secret: string, id: string, body: string) => Record<string, string>;
      send?: (body: string) => string;
    }[] = [
      {
        name: "a tampered body",
        code: "invalid_signature",
        headers: (secret, id, body) => libraryHeaders(secret, id, nowSeconds(), body),
        send: (body) => body.replace('"value":1.5', '"value":15'),
      },
      {
        name: "a signature under another secret",
        code: "invalid_signature",
        headers: (_secret, id, body) => libraryHeaders(generateSecret(), id, nowSeconds(), body),
      },
      {
        name: "a timestamp 6 minutes old",
        code: "timestamp_out_of_range",
        headers: (secret, id, body) => libraryHeaders(secret, id, nowSeconds() - 360, body),
      },
      {
        name: "a timestamp 6 minutes in the future",
        code: "timestamp_out_of_range",
        headers: (secret, id, body) => libraryHeaders(secret, id, nowSeconds() + 360, body),
      },
    ];
    it.each(cases)("401: $name, and nothing is stored", async ({ code, headers, send }) => {
      const tenant = await createTestTenant();
      const body = eventBody();
      const response = await post(`/api/webhooks/${tenant.slug}`, headers(tenant.secret, newEventId(), body), send ? send(body) : body);
      expect(response.status).toBe(401);
      expect((await response.json()).error.code).toBe(code);
      expect(await storedIds(tenant.id)).toEqual([]);
    });
  });

  describe("the webhook-signature header's entries", () => {
    it("several space-separated entries where only the last is valid are accepted", async () => {
      const tenant = await createTestTenant();
      const id = newEventId();
      const timestamp = nowSeconds();
      const body = eventBody();
      const valid = new Webhook(tenant.secret).sign(id, new Date(timestamp * 1000), body);
      const wrong = new Webhook(generateSecret()).sign(id, new Date(timestamp * 1000), body);
      const header = [wrong, `v1,${Buffer.alloc(32).toString("base64")}`, valid].join(" ");
      const response = await post(`/api/webhooks/${tenant.slug}`, libraryHeaders(tenant.secret, id, timestamp, body, header), body);
      expect(response.status).toBe(202);
      expect(await storedIds(tenant.id)).toEqual([id]);
    });

    it("a v2 entry is ignored even when it carries the right MAC", async () => {
      const tenant = await createTestTenant();
      const id = newEventId();
      const timestamp = nowSeconds();
      const body = eventBody();
      const mac = new Webhook(tenant.secret).sign(id, new Date(timestamp * 1000), body).slice("v1,".length);
      const response = await post(`/api/webhooks/${tenant.slug}`, libraryHeaders(tenant.secret, id, timestamp, body, `v2,${mac}`), body);
      expect(response.status).toBe(401);
      expect(await storedIds(tenant.id)).toEqual([]);
    });

    it("v2 entries before a valid v1 entry are skipped and the v1 entry verifies", async () => {
      const tenant = await createTestTenant();
      const id = newEventId();
      const timestamp = nowSeconds();
      const body = eventBody();
      const valid = new Webhook(tenant.secret).sign(id, new Date(timestamp * 1000), body);
      const header = `v2,${Buffer.alloc(32).toString("base64")} v2,abc ${valid}`;
      const response = await post(`/api/webhooks/${tenant.slug}`, libraryHeaders(tenant.secret, id, timestamp, body, header), body);
      expect(response.status).toBe(202);
    });
  });

  describe("secret rotation", () => {
    const send = (slug: string, secret: string, item: string) => {
      const body = eventBody(item);
      return post(`/api/webhooks/${slug}`, libraryHeaders(secret, newEventId(), nowSeconds(), body), body);
    };

    it("the new secret verifies at once after rotation, though the tenant was cached with the old one", async () => {
      const tenant = await createTestTenant();
      // Fills this process's tenant cache (TTL 5 s) with the pre-rotation row.
      expect((await send(tenant.slug, tenant.secret, "a")).status).toBe(202);
      const { secret } = await rotateSecret(tenant.slug);
      expect((await send(tenant.slug, secret, "b")).status).toBe(202);
    });

    it("the old secret keeps verifying during the grace period", async () => {
      const tenant = await createTestTenant();
      const { secret } = await rotateSecret(tenant.slug);
      expect((await send(tenant.slug, tenant.secret, "a")).status).toBe(202);
      expect((await send(tenant.slug, secret, "b")).status).toBe(202);
    });

    it("after the grace period only the new secret verifies", async () => {
      const tenant = await createTestTenant();
      const { secret, previousValidUntil } = await rotateSecret(tenant.slug, 2_000);
      // Within the grace period (and the tenant is now cached, with the expiry in the entry).
      expect((await send(tenant.slug, tenant.secret, "a")).status).toBe(202);
      await sleep(previousValidUntil.getTime() - Date.now() + 50);
      // Still inside the cache's TTL: the expiry is checked per request, not when the cache was filled.
      const late = await send(tenant.slug, tenant.secret, "b");
      expect(late.status).toBe(401);
      expect((await late.json()).error.code).toBe("invalid_signature");
      expect((await send(tenant.slug, secret, "c")).status).toBe(202);
    });

    it("a second rotation retires the first secret at once, whatever its grace period", async () => {
      const tenant = await createTestTenant();
      const { secret: second } = await rotateSecret(tenant.slug);
      const { secret: third } = await rotateSecret(tenant.slug);
      expect((await send(tenant.slug, tenant.secret, "a")).status).toBe(401);
      expect((await send(tenant.slug, second, "b")).status).toBe(202);
      expect((await send(tenant.slug, third, "c")).status).toBe(202);
    });
  });
});
