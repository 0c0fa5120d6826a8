/**
 * "No 500 for any input", one test per finding, each sent from outside (HTTP
 * to the route handlers and the production fast path, or the CLI's own
 * runCommand): item ids are the tenant's own; values PostgreSQL would refuse
 * are 4xx naming the field (in a batch, that event alone); a malformed
 * session cookie signs the visitor out; a path that does not decode is a
 * 400 (the production server answers it before Next.js, which would answer
 * 500) or 404; a tRPC batch and a series are bounded.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POST as signInRoute } from "../app/api/auth/sign-in/route.ts";
import { POST as signOutRoute } from "../app/api/auth/sign-out/route.ts";
import { GET as trpcGet, POST as trpcPost } from "../app/api/trpc/[trpc]/route.ts";
import { runCommand } from "../server/cli/tidemark.ts";
import { PageFailure, fetchPage } from "../server/collector/page.ts";
import { createWebhookServer } from "../server/http/fast-path.ts";
import { SESSION_COOKIE, createSession } from "../server/auth/session.ts";
import { createUser } from "../server/auth/users.ts";
import { pool } from "../server/db.ts";
import { route, serve, type TestServer } from "./http.ts";
import { WEBHOOK_SERVERS, createTestTenant, itemEvent, newEventId, postSigned } from "./webhooks.ts";

type Tenant = Awaited<ReturnType<typeof createTestTenant>>;

async function storedItemIds(tenantId: number): Promise<string[]> {
  const { rows } = await pool.query<{ item_id: string }>('SELECT item_id FROM events WHERE tenant_id = $1 ORDER BY item_id COLLATE "C"', [tenantId]);
  return rows.map((row) => row.item_id);
}

describe.each(WEBHOOK_SERVERS)("webhooks on the $name", ({ start }) => {
  let server: TestServer;
  let tenant: Tenant;
  beforeAll(async () => {
    server = await start();
    tenant = await createTestTenant();
  });
  afterAll(() => server.close());

  const single = (body: unknown, id = newEventId()) =>
    postSigned({ url: `${server.url}/api/webhooks/${tenant.slug}`, secret: tenant.secret, body: JSON.stringify(body), id });

  it.each(["user 42", "ünïcødé-🐳", "'; DROP TABLE x; --"])("accepts the item id %j, as data.id and as a ref, and stores it as sent", async (itemId) => {
    const before = await storedItemIds(tenant.id);
    const response = await single(itemEvent("item.created", { id: itemId, version: 1, refs: [itemId, "other"] }));
    expect(response.status).toBe(202);
    expect((await storedItemIds(tenant.id)).filter((id) => !before.includes(id))).toEqual([itemId]);
  });

  it("still refuses a non-ASCII event id (it travels in a header) with a 422 naming id", async () => {
    const response = await fetch(`${server.url}/api/webhooks/${tenant.slug}/batch`, {
      method: "POST",
      headers: (await import("./webhooks.ts")).signedHeaders(
        tenant.secret,
        "batch-1",
        Math.floor(Date.now() / 1000),
        JSON.stringify({ events: [{ id: "ü", ...itemEvent("item.created", { id: "a", version: 1 }) }] }),
      ),
      body: JSON.stringify({ events: [{ id: "ü", ...itemEvent("item.created", { id: "a", version: 1 }) }] }),
    });
    expect(response.status).toBe(422);
    expect((await response.json()).results[0]).toMatchObject({ id: null, status: "invalid", error: { details: [{ path: "id" }] } });
  });

  it.each([
    ["a timestamp in the year 0000", { ...itemEvent("item.created", { id: "a", version: 1 }), timestamp: "0000-01-01T00:00:00Z" }, "timestamp"],
    [
      "an offset PostgreSQL cannot hold (+16:00)",
      { ...itemEvent("item.created", { id: "a", version: 1 }), timestamp: "2026-11-27T10:00:00+16:00" },
      "timestamp",
    ],
    ["a lone surrogate in the name", itemEvent("item.created", { id: "a", version: 1, name: "x\ud800" }), "data.name"],
    ["a lone surrogate in the category", itemEvent("item.created", { id: "a", version: 1, category: "\udfff" }), "data.category"],
    ["a lone surrogate in the item id", itemEvent("item.created", { id: "a\ud800", version: 1 }), "data.id"],
    ["NUL in a ref", itemEvent("item.created", { id: "a", version: 1, refs: ["ok", "b\u0000"] }), "data.refs.1"],
  ])("refuses %s with a 422 naming the field, storing nothing", async (_, body, field) => {
    const before = await storedItemIds(tenant.id);
    const response = await single(body);
    expect(response.status).toBe(422);
    expect((await response.json()).error.details.map((detail: { path: string }) => detail.path)).toEqual([field]);
    expect(await storedItemIds(tenant.id)).toEqual(before);
  });

  it("in a batch, an event PostgreSQL would refuse is invalid and the others are stored", async () => {
    const events = [
      { id: newEventId(), ...itemEvent("item.created", { id: "batch-good-1", version: 1 }) },
      { id: newEventId(), ...itemEvent("item.created", { id: "batch-year-0", version: 1 }), timestamp: "0000-06-01T00:00:00Z" },
      { id: newEventId(), ...itemEvent("item.created", { id: "batch-surrogate", version: 1, name: "\ud83d" }) },
      { id: newEventId(), ...itemEvent("item.created", { id: "batch-good-🐳", version: 1 }) },
    ];
    const before = await storedItemIds(tenant.id);
    const response = await postSigned({ url: `${server.url}/api/webhooks/${tenant.slug}/batch`, secret: tenant.secret, body: JSON.stringify({ events }) });
    expect(response.status).toBe(202);
    const { results } = await response.json();
    expect(results.map((result: { status: string }) => result.status)).toEqual(["accepted", "invalid", "invalid", "accepted"]);
    expect(results[1].error.details).toEqual([{ path: "timestamp", message: expect.any(String) }]);
    expect(results[2].error.details).toEqual([{ path: "data.name", message: expect.any(String) }]);
    expect((await storedItemIds(tenant.id)).filter((id) => !before.includes(id))).toEqual(["batch-good-1", "batch-good-🐳"]);
  });

  it.each(["%E0%A4%A", "%ED%A0%80", "%", "%00"])("answers a slug %s that does not decode (or cannot exist) with a 400 or 404", async (slug) => {
    for (const path of [`/api/webhooks/${slug}`, `/api/webhooks/${slug}/batch`]) {
      const response = await fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      expect([400, 404]).toContain(response.status);
    }
  });
});

describe("the production server in front of Next.js (createWebhookServer)", () => {
  let server: Server;
  let url = "";
  const reachedNext: string[] = [];
  beforeAll(async () => {
    // Stands in for Next.js 16, which answers a path that does not decode with a 500 (e2e/any-input.spec.ts sees it).
    server = createWebhookServer((request, response) => {
      reachedNext.push(request.url ?? "");
      response.writeHead(500).end("Internal Server Error");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it.each([
    ["POST", "/api/webhooks/%E0%A4%A"],
    ["POST", "/api/webhooks/%E0%A4%A/batch"],
    ["GET", "/tenants/%ED%A0%80"],
    ["GET", "/tenants/x/items/%"],
    ["GET", "/%C0%AF?x=1"],
  ])("answers %s %s, whose path does not decode, with a 400 of its own: Next.js never sees it", async (method, path) => {
    const response = await fetch(`${url}${path}`, { method, ...(method === "POST" ? { headers: { "content-type": "application/json" }, body: "{}" } : {}) });
    expect(response.status).toBe(400);
    expect((await response.json()).error.code).toBe("bad_request");
    expect(reachedNext).toEqual([]);
  });

  it("hands paths that decode, and queries that do not, to Next.js", async () => {
    await fetch(`${url}/tenants/%C3%BC?q=%E0%A4%A`);
    expect(reachedNext).toEqual(["/tenants/%C3%BC?q=%E0%A4%A"]);
  });
});

describe("the dashboard's edges", () => {
  let server: TestServer;
  let adminCookie = "";
  beforeAll(async () => {
    server = await serve([
      route("POST", "/api/auth/sign-in", signInRoute as never),
      route("POST", "/api/auth/sign-out", signOutRoute as never),
      route("GET", "/api/trpc/[trpc]", trpcGet as never),
      route("POST", "/api/trpc/[trpc]", trpcPost as never),
    ]);
    const admin = await createUser({ email: "any-input-admin@test.example", role: "admin", password: "correct horse battery" });
    adminCookie = `${SESSION_COOKIE}=${encodeURIComponent((await createSession(admin.id)).token)}`;
    await createTestTenant({ slug: "any-input" });
  });
  afterAll(() => server.close());

  const query = (path: string, input: unknown, cookie = adminCookie) =>
    fetch(`${server.url}/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify(superjson.serialize(input)))}`, { headers: { cookie } });

  it.each(["%E0%A4%A", "%", "%ED%A0%80"])(
    "a session cookie %s that does not decode signs the visitor out (tRPC answers as to nobody; sign-out clears it)",
    async (bad) => {
      const me = await query("auth.me", undefined, `${SESSION_COOKIE}=${bad}`);
      expect(me.status).toBe(200);
      expect((await me.json()).result.data.json).toBeNull();
      const guarded = await query("tenants.list", undefined, `${SESSION_COOKIE}=${bad}`);
      expect(guarded.status).toBe(401);
      const signOut = await fetch(`${server.url}/api/auth/sign-out`, { method: "POST", headers: { cookie: `${SESSION_COOKIE}=${bad}` } });
      expect(signOut.status).toBe(200);
      expect(signOut.headers.get("set-cookie")).toContain("Expires=Thu, 01 Jan 1970");
    },
  );

  it("sign-in with NUL in the email is a 400 naming the field, not a failed lookup", async () => {
    const response = await fetch(`${server.url}/api/auth/sign-in`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "a\u0000@test.example", password: "correct horse battery" }),
    });
    expect(response.status).toBe(400);
    expect((await response.json()).error.details).toEqual([{ path: "email", message: expect.stringContaining("NUL") }]);
  });

  it.each([
    ["NUL in the items search box", "items.list", { tenant: "any-input", search: "a\u0000" }, "search"],
    ["NUL in an items cursor", "items.list", { tenant: "any-input", cursor: "\u0000" }, "cursor"],
    ["a lone surrogate in an item id", "items.history", { tenant: "any-input", itemId: "\ud800" }, "itemId"],
    ["NUL in a key of the input", "items.list", { tenant: "any-input", "k\u0000": 1 }, "k\u0000"],
    ["a date PostgreSQL cannot hold", "stats.series", { tenant: "any-input", from: new Date(-8.64e15), to: new Date(-8.64e15 + 60_000) }, "from"],
  ])("tRPC: %s is a 400 naming the field", async (_, path, input, field) => {
    const response = await query(path, input);
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(Object.keys(body.error.json.data.zodError.fieldErrors)).toContain(field);
  });

  it("tRPC: a user id beyond the users table's int4 key is a 400, not a failed query", async () => {
    const response = await fetch(`${server.url}/api/trpc/admin.revokeSessions`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: adminCookie },
      body: JSON.stringify(superjson.serialize({ userId: 2 ** 31 })),
    });
    expect(response.status).toBe(400);
  });

  it("tRPC: setting the memberships of a user that does not exist is a 404", async () => {
    const response = await fetch(`${server.url}/api/trpc/admin.setMemberships`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: adminCookie },
      body: JSON.stringify(superjson.serialize({ userId: 999_999, tenants: ["any-input"] })),
    });
    expect(response.status).toBe(404);
  });

  it("tRPC: a batch of 10 calls is answered, a batch of 11 is a 400 that says the bound", async () => {
    const batch = (calls: number) =>
      fetch(`${server.url}/api/trpc/${Array.from({ length: calls }, () => "health.check").join(",")}?batch=1&input=${encodeURIComponent(JSON.stringify({}))}`, {
        headers: { cookie: adminCookie },
      });
    expect((await batch(10)).status).toBe(200);
    const refused = await batch(11);
    expect(refused.status).toBe(400);
    expect((await refused.json()).error.message).toBe("a batch may hold at most 10 calls; this one has 11");
  });

  it("tRPC: a series of more than 2,000 points is a 400; 2,000 are served", async () => {
    const from = new Date("2026-11-01T00:00:00Z");
    const at = (minutes: number) => query("stats.series", { tenant: "any-input", from, to: new Date(from.getTime() + minutes * 60_000), bucket: "1m" });
    const served = await at(2_000);
    expect(served.status).toBe(200);
    expect((await served.json()).result.data.json.points).toHaveLength(2_000);
    const refused = await at(2_001);
    expect(refused.status).toBe(400);
    expect((await refused.json()).error.json.data.zodError.fieldErrors.bucket).toEqual([expect.stringContaining("at most 2,000 points")]);
    // 400 days of 1-minute buckets (576,000 points) was served on request before the cap.
    expect((await query("stats.series", { tenant: "any-input", from, to: new Date(from.getTime() + 400 * 86_400_000), bucket: "1m" })).status).toBe(400);
  });
});

describe("a pulled page (the collector's fetch from a tenant's API)", () => {
  it.each([
    ["NUL", "c\u0000"],
    ["a lone surrogate (it would be stored as U+FFFD and sent back changed)", "c\ud800"],
  ])("with %s in next_cursor is malformed: it backs off instead of failing the commit", async (_, cursor) => {
    const upstream = createServer((_request, response) => {
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ events: [], next_cursor: cursor, has_more: true }));
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/events`;
      const failure = await fetchPage({ url, cursor: null, limit: 10, token: null, timeoutMs: 5_000, maxBytes: 1_000_000 }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(PageFailure);
      expect(failure).toMatchObject({ kind: "malformed", message: expect.stringContaining("next_cursor") });
    } finally {
      upstream.closeAllConnections();
      await new Promise((resolve) => upstream.close(resolve));
    }
  });
});

describe("the admin CLI (runCommand, in process)", () => {
  it("a flag holding NUL is a usage error naming the flag, and nothing is created", async () => {
    const result = await runCommand(["tenant", "create", "--slug", "cli-nul", "--name", "a\u0000b"]);
    expect(result.code).toBe(2);
    const { rows } = await pool.query("SELECT 1 FROM tenants WHERE slug = 'cli-nul'");
    expect(rows).toEqual([]);
  });

  it("a flag holding a lone surrogate is a usage error, not text silently replaced by U+FFFD", async () => {
    expect((await runCommand(["tenant", "create", "--slug", "cli-surrogate", "--name", "x\ud800"])).code).toBe(2);
  });
});
