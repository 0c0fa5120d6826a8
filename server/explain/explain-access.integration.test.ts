/**
 * Explanations and the ETA from outside, over the real tRPC route with real
 * session cookies: a viewer of another tenant is refused (403) and learns
 * nothing of this tenant's events, the same as for a tenant that does not
 * exist; this tenant's own viewer reads them. The control is that member:
 * the same requests, another cookie, and the data is there.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { GET as trpcGet } from "../../app/api/trpc/[trpc]/route.ts";
import { SESSION_COOKIE, createSession } from "../auth/session.ts";
import { createUser } from "../auth/users.ts";
import { event, storeInInbox } from "../../test/events.ts";
import { createTestTenant } from "../../test/webhooks.ts";

let slug = "";
const cookies = { member: "", otherViewer: "" };

async function cookieFor(email: string, tenantSlugs: string[]): Promise<string> {
  const user = await createUser({ email, role: "viewer", password: "correct horse battery", tenantSlugs });
  return `${SESSION_COOKIE}=${encodeURIComponent((await createSession(user.id)).token)}`;
}

beforeAll(async () => {
  const tenant = await createTestTenant();
  const other = await createTestTenant();
  slug = tenant.slug;
  await storeInInbox(tenant.id, [event("secret-event-1", "item.created", "secret-item", 1)]);
  cookies.member = await cookieFor("member@test.example", [tenant.slug]);
  cookies.otherViewer = await cookieFor("other@test.example", [other.slug]);
});

async function query(cookie: string, path: string, input: unknown): Promise<{ status: number; text: string }> {
  const url = `http://app.test/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`;
  const response = await trpcGet(new Request(url, { headers: { host: "app.test", cookie } }));
  return { status: response.status, text: await response.text() };
}

const CALLS = [
  ["explain.item", () => ({ tenant: slug, itemId: "secret-item" })],
  ["explain.event", () => ({ tenant: slug, eventId: "secret-event-1" })],
  ["explain.eta", () => ({ tenant: slug })],
] as const;

describe("explanations over HTTP", () => {
  it.each(CALLS)("%s: another tenant's viewer is refused and sees none of it; the tenant's member reads it", async (path, input) => {
    const refused = await query(cookies.otherViewer, path, input());
    expect(refused.status).toBe(403);
    expect(refused.text).toContain("FORBIDDEN");
    expect(refused.text).not.toMatch(/secret-item|secret-event-1|backlog/);
    // The same answer as for a tenant that does not exist: nothing tells them this one does.
    const missing = await query(cookies.otherViewer, path, { ...input(), tenant: "no-such-tenant" });
    expect(missing.status).toBe(403);

    const allowed = await query(cookies.member, path, input());
    expect(allowed.status).toBe(200);
    expect(allowed.text).toMatch(path === "explain.eta" ? /"backlog":1/ : /secret-event-1/);
  });
});
