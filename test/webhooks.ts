/**
 * Helpers for webhook tests: tenants with unique slugs, requests signed with
 * the official `standardwebhooks` library (the sender's side is outside
 * Tidemark, so tests sign the way real senders do), and the two servers that
 * answer webhooks: the Next.js route handlers (what `next dev` and a host
 * running Next.js alone use) and the production server's fast path. Contract
 * tests run against both (WEBHOOK_SERVERS), so the two cannot drift apart.
 */
import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { POST as postBatch } from "../app/api/webhooks/[tenant]/batch/route.ts";
import { POST as postSingle } from "../app/api/webhooks/[tenant]/route.ts";
import type { TCreateTenantInput } from "../server/schemas/tenant.ts";
import { createTenant } from "../server/tenants/service.ts";
import { createWebhookServer, type WebhookServerOptions } from "../server/http/fast-path.ts";
import { listen, route, serve, type TestServer } from "./http.ts";

export function uniqueSlug(prefix = "t"): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

export async function createTestTenant(overrides: Partial<TCreateTenantInput> = {}) {
  const { tenant, secret } = await createTenant({ slug: uniqueSlug(), ...overrides });
  return { ...tenant, secret };
}

/** The webhook route handlers as Next.js calls them (web Request in, Response out). */
export function serveWebhooks(): Promise<TestServer> {
  return serve([route("POST", "/api/webhooks/[tenant]", postSingle as never), route("POST", "/api/webhooks/[tenant]/batch", postBatch as never)]);
}

/** The production server's webhook fast path (server/http/fast-path.ts); anything else is a bare 404, where Next.js would answer. */
export function serveFastPath(options?: WebhookServerOptions): Promise<TestServer> {
  return listen(
    createWebhookServer((_request, response) => {
      response.writeHead(404).end();
    }, options),
  );
}

export interface WebhookServerKind {
  name: string;
  start(): Promise<TestServer>;
}

/** Both servers that answer webhooks; contract tests run against each (describe.each). */
export const WEBHOOK_SERVERS: readonly WebhookServerKind[] = [
  { name: "Next.js route handlers", start: serveWebhooks },
  { name: "production fast path", start: () => serveFastPath() },
];

export function newEventId(): string {
  return `msg_${randomBytes(9).toString("hex")}`;
}

export function itemEvent(
  type: "item.created" | "item.updated" | "item.deleted",
  data: { id: string; version: number; name?: string; category?: string; value?: number; refs?: string[] },
) {
  return { type, timestamp: "2026-11-27T10:00:00Z", data };
}

export interface SignedPost {
  url: string;
  secret: string;
  body: string;
  id?: string;
  /** Unix seconds; defaults to now. */
  timestamp?: number;
  headers?: Record<string, string>;
}

export function signedHeaders(secret: string, id: string, timestamp: number, body: string): Record<string, string> {
  const signature = new Webhook(secret).sign(id, new Date(timestamp * 1000), body);
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signature,
  };
}

export async function postSigned({ url, secret, body, id = newEventId(), timestamp, headers = {} }: SignedPost): Promise<Response> {
  const ts = timestamp ?? Math.floor(Date.now() / 1000);
  return fetch(url, { method: "POST", headers: { ...signedHeaders(secret, id, ts, body), ...headers }, body });
}
