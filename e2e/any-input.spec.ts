/**
 * "No 500 for any input" against the real production server (server/cli/serve.ts:
 * the webhook fast path in front of Next.js): a path that does not decode is a
 * 400 or 404 on the webhook routes and on pages, a session cookie that does not
 * decode signs the visitor out, and a tenant's own Unicode item id goes from a
 * webhook to its item page.
 */
import { E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD, expect, signIn, signedHeaders, test } from "./fixtures.ts";

test("webhook paths whose slug does not decode are a 400 or 404, never a 5xx", async ({ baseURL }) => {
  for (const slug of ["%E0%A4%A", "%ED%A0%80", "%", "%00"]) {
    for (const suffix of ["", "/batch"]) {
      const response = await fetch(`${baseURL}/api/webhooks/${slug}${suffix}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      expect([400, 404], `${slug}${suffix}`).toContain(response.status);
    }
  }
});

test("a page path that does not decode is a 400 (answered before Next.js, which would answer 500)", async ({ baseURL }) => {
  for (const path of ["/tenants/%E0%A4%A", "/tenants/x/items/%ED%A0%80"]) {
    const response = await fetch(`${baseURL}${path}`, { redirect: "manual" });
    expect(response.status, path).toBe(400);
  }
});

test("a session cookie that does not decode signs the visitor out: pages send them to sign in, tRPC answers as to nobody", async ({ baseURL }) => {
  for (const value of ["%E0%A4%A", "%", "%ED%A0%80"]) {
    const page = await fetch(`${baseURL}/`, { headers: { cookie: `tidemark_session=${value}` }, redirect: "manual" });
    expect(page.status, value).toBeGreaterThanOrEqual(300);
    expect(page.status, value).toBeLessThan(400);
    expect(page.headers.get("location"), value).toContain("/sign-in");
    const me = await fetch(`${baseURL}/api/trpc/auth.me`, { headers: { cookie: `tidemark_session=${value}` } });
    expect(me.status, value).toBe(200);
  }
});

test("an item id of the tenant's own (Unicode, spaces, quotes) is accepted, applied and shown on its item page", async ({ page, tenant }) => {
  const itemId = "ünïcødé-🐳 'quoted' #1";
  const body = JSON.stringify({ type: "item.created", timestamp: new Date().toISOString(), data: { id: itemId, version: 3, name: "Whale" } });
  const response = await fetch(tenant.webhookUrl, { method: "POST", headers: signedHeaders(tenant.secret, body), body });
  expect(response.status).toBe(202);
  await signIn(page, E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD);
  await page.goto(`/tenants/${tenant.slug}/items/${encodeURIComponent(itemId)}`);
  await expect(page.getByRole("heading", { level: 1, name: itemId })).toBeVisible();
  // Applied by the in-app worker: the state appears once it is processed.
  await expect(async () => {
    await page.reload();
    await expect(page.getByText("Whale")).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
});
