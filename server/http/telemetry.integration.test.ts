/**
 * The production server's request telemetry (server/http/fast-path.ts):
 * request ids from x-request-id (or generated), echoed, carried by log lines
 * and stored on the inbox rows; one duration observation per request by
 * route template, method and status, for webhooks and the fallback alike.
 */
import type { AddressInfo } from "node:net";
import type http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { log } from "../log.ts";
import { metrics } from "../metrics.ts";
import { createWebhookServer } from "./fast-path.ts";
import { captureLogs } from "../../test/log-capture.ts";
import { createTestTenant, itemEvent, newEventId, signedHeaders } from "../../test/webhooks.ts";

let server: http.Server;
let url: string;
beforeAll(async () => {
  // The fallback stands where Next.js would: it logs after an await, as a route handler does.
  server = createWebhookServer((_request, response) => {
    void Promise.resolve().then(() => {
      log.warn({ module: "test-fallback" }, "fallback answered");
      response.writeHead(404, { "content-type": "text/plain" }).end("not here");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function post(tenant: { slug: string; secret: string }, headers: Record<string, string> = {}, path = "") {
  const id = newEventId();
  const body = JSON.stringify(itemEvent("item.created", { id: `item-${id}`, version: 1 }));
  const response = await fetch(`${url}/api/webhooks/${tenant.slug}${path}`, {
    method: "POST",
    headers: { ...signedHeaders(tenant.secret, id, Math.floor(Date.now() / 1000), body), ...headers },
    body,
  });
  return { response, id };
}

async function storedRequestId(tenantId: number, eventId: string): Promise<string | null | undefined> {
  const { rows } = await pool.query<{ request_id: string | null }>(`SELECT request_id FROM events WHERE tenant_id = $1 AND event_id = $2`, [tenantId, eventId]);
  return rows[0]?.request_id;
}

async function observations(labels: { route: string; method: string; status: string }): Promise<number> {
  const { values } = await metrics.httpRequestSeconds.get();
  const count = values.find(
    (value) =>
      value.metricName === "http_request_duration_seconds_count" &&
      value.labels.route === labels.route &&
      value.labels.method === labels.method &&
      value.labels.status === labels.status,
  );
  return count?.value ?? 0;
}

describe("request ids", () => {
  it("keeps a valid x-request-id: echoed, and stored on the event", async () => {
    const tenant = await createTestTenant();
    const { response, id } = await post(tenant, { "x-request-id": "req-abc_123" });
    expect(response.status).toBe(202);
    expect(response.headers.get("x-request-id")).toBe("req-abc_123");
    expect(await storedRequestId(tenant.id, id)).toBe("req-abc_123");
  });

  it("generates one when none or an invalid one is sent, and stores what it echoed", async () => {
    const tenant = await createTestTenant();
    for (const headers of [{} as Record<string, string>, { "x-request-id": 'has spaces and "quotes"' }, { "x-request-id": "x".repeat(129) }]) {
      const { response, id } = await post(tenant, headers);
      expect(response.status).toBe(202);
      const echoed = response.headers.get("x-request-id");
      expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
      expect(await storedRequestId(tenant.id, id)).toBe(echoed);
    }
  });

  it("stores it on every event of a batch", async () => {
    const tenant = await createTestTenant();
    const events = [1, 2, 3].map((n) => ({ id: newEventId(), ...itemEvent("item.created", { id: `b-${n}`, version: 1 }) }));
    const body = JSON.stringify({ events });
    const response = await fetch(`${url}/api/webhooks/${tenant.slug}/batch`, {
      method: "POST",
      headers: { ...signedHeaders(tenant.secret, newEventId(), Math.floor(Date.now() / 1000), body), "x-request-id": "batch-req-1" },
      body,
    });
    expect(response.status).toBe(202);
    for (const event of events) expect(await storedRequestId(tenant.id, event.id)).toBe("batch-req-1");
  });

  it("is carried by log lines written while the request is handled, and by no others", async () => {
    const capture = captureLogs();
    try {
      const response = await fetch(`${url}/somewhere/else`, { headers: { "x-request-id": "log-req-7" } });
      expect(response.status).toBe(404);
      expect(response.headers.get("x-request-id")).toBe("log-req-7");
      log.warn({ module: "test" }, "outside any request");
    } finally {
      capture.stop();
    }
    const parsed = capture.lines.map((line) => JSON.parse(line) as { msg: string; requestId?: string });
    expect(parsed.find((line) => line.msg === "fallback answered")?.requestId).toBe("log-req-7");
    expect(parsed.find((line) => line.msg === "outside any request")).not.toHaveProperty("requestId");
  });
});

describe("http_request_duration_seconds", () => {
  it("observes each request once, by route template, method and status, webhooks and fallback alike", async () => {
    const tenant = await createTestTenant();
    const webhook = { route: "/api/webhooks/[tenant]", method: "POST", status: "202" };
    const unauthorized = { route: "/api/webhooks/[tenant]", method: "POST", status: "401" };
    const elsewhere = { route: "other", method: "GET", status: "404" };
    const before = [await observations(webhook), await observations(unauthorized), await observations(elsewhere)];
    await post(tenant);
    await post(tenant);
    await post({ slug: tenant.slug, secret: "whsec_" + Buffer.from("wrong key, 32 bytes long........").toString("base64") });
    await fetch(`${url}/no/such/${Math.random()}`);
    // The observation is made when the connection's response closes, just after the client has read it.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await observations(webhook)).toBe(before[0]! + 2);
    expect(await observations(unauthorized)).toBe(before[1]! + 1);
    expect(await observations(elsewhere)).toBe(before[2]! + 1);
    const exposition = await metrics.registry.metrics();
    expect(exposition).toMatch(/^http_request_duration_seconds_bucket\{le="0\.001",route="\/api\/webhooks\/\[tenant\]",method="POST",status="202"\}/m);
  });
});
