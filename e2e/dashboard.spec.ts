/**
 * The dashboard end to end, in Chromium against the real app (issue 4's
 * acceptance): an admin signs in, creates a tenant, events posted to its
 * webhook show in the charts and the items browser, a lower rate limit turns
 * the next burst into 429s, a viewer of another tenant can see nothing of
 * it (in the UI, and over tRPC directly), and signing out ends the session.
 * Screenshots of the overview and tenant pages are attached to the report.
 */
import { randomBytes } from "node:crypto";
import { E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD, expect, signIn, signedHeaders, test, tidemark } from "./fixtures.ts";

function itemEvent(item: number, version: number, type: "item.created" | "item.updated" | "item.deleted") {
  const data = type === "item.deleted" ? { id: `item-${item}`, version } : { id: `item-${item}`, version, name: `Item ${item}`, value: item * 1.5 };
  return JSON.stringify({ type, timestamp: new Date().toISOString(), data });
}

async function post(url: string, secret: string, body: string): Promise<number> {
  return (await fetch(url, { method: "POST", headers: signedHeaders(secret, body), body })).status;
}

test("an admin creates a tenant, sees its events, throttles it, and a viewer of another tenant sees none of it", async ({
  page,
  browser,
  baseURL,
}, testInfo) => {
  test.setTimeout(180_000);
  const slug = `dash-${randomBytes(3).toString("hex")}`;

  // Sign in and create the tenant through the admin page; its secret is shown once.
  await signIn(page, E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD);
  await page.goto("/admin/tenants");
  const form = page.getByRole("form", { name: "Create tenant" });
  await form.getByLabel("Slug").fill(slug);
  await form.getByLabel("Name").fill("Dashboard tenant");
  await form.getByRole("button", { name: "Create tenant" }).click();
  const secret = await page.getByLabel("Webhook secret").inputValue();
  expect(secret).toMatch(/^whsec_/);

  // The tenant's systems post 30 events: 20 creates, 8 updates, 2 deletes.
  const webhook = `${baseURL}/api/webhooks/${slug}`;
  const statuses: number[] = [];
  for (let item = 0; item < 20; item++) statuses.push(await post(webhook, secret, itemEvent(item, 1, "item.created")));
  for (let item = 0; item < 8; item++) statuses.push(await post(webhook, secret, itemEvent(item, 2, "item.updated")));
  for (let item = 18; item < 20; item++) statuses.push(await post(webhook, secret, itemEvent(item, 2, "item.deleted")));
  expect(statuses).toEqual(Array(30).fill(202));

  // The tenant page shows them once the workers have applied them (it refreshes itself).
  await page.goto(`/tenants/${slug}?range=1h`);
  await expect(page.getByRole("heading", { name: "Dashboard tenant", level: 1 })).toBeVisible();
  const totals = page.getByRole("region", { name: "Totals" });
  await expect(totals.getByText("Received").locator("xpath=following-sibling::dd")).toHaveText("30", { timeout: 30_000 });
  await expect(totals.getByText("Applied").locator("xpath=following-sibling::dd")).toHaveText("30", { timeout: 30_000 });
  for (const chart of ["Events received", "Outcomes", "Latency", "Backlog"]) {
    await expect(page.getByRole("heading", { name: chart, level: 2, exact: true })).toBeVisible();
  }
  await page.screenshot({ path: testInfo.outputPath("tenant-page.png"), fullPage: true });
  await testInfo.attach("tenant page", { path: testInfo.outputPath("tenant-page.png"), contentType: "image/png" });

  // The items browser lists the 18 live items; the 2 tombstones only on request.
  await page.goto(`/tenants/${slug}/items`);
  await expect(page.getByRole("link", { name: "item-0", exact: true })).toBeVisible();
  await expect(page.getByRole("link", { name: "item-19", exact: true })).toHaveCount(0);
  await page.getByLabel(/show deleted/i).check();
  await expect(page.getByRole("link", { name: "item-19", exact: true })).toBeVisible();

  await page.goto(`/?q=${slug}`);
  await expect(page.getByRole("heading", { name: "Dashboard tenant" })).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("overview.png"), fullPage: true });
  await testInfo.attach("overview", { path: testInfo.outputPath("overview.png"), contentType: "image/png" });

  // The admin lowers the tenant's rate limit; the next burst is mostly refused with 429.
  await page.goto(`/admin/tenants?q=${slug}`);
  await page
    .getByRole("row", { name: new RegExp(slug) })
    .getByRole("button", { name: "Edit quotas" })
    .click();
  const quotas = page.getByRole("form", { name: `Edit quotas for ${slug}` });
  await quotas.getByLabel("Rate per second").fill("1");
  await quotas.getByLabel("Burst").fill("2");
  await quotas.getByRole("button", { name: "Save quotas" }).click();
  await expect(page.getByText(`Saved quotas for ${slug}.`)).toBeVisible();
  const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => post(webhook, secret, itemEvent(100 + i, 1, "item.created"))));
  expect(burst.filter((status) => status === 429).length).toBeGreaterThanOrEqual(7);
  expect(burst.every((status) => status === 202 || status === 429)).toBe(true);

  // A viewer of another tenant: the tenant is not in their overview, its page refuses them,
  // and a direct tRPC call with their session is refused by the server.
  const other = `other-${randomBytes(3).toString("hex")}`;
  await tidemark("tenant", "create", "--slug", other);
  const viewerEmail = `viewer-${randomBytes(3).toString("hex")}@e2e.test`;
  const viewerPassword = "viewer-password-1234";
  await tidemark("user", "create", "--email", viewerEmail, "--role", "viewer", "--tenant", other, "--password", viewerPassword);
  const viewerContext = await browser.newContext();
  const viewer = await viewerContext.newPage();
  await signIn(viewer, viewerEmail, viewerPassword);
  await expect(viewer.getByRole("heading", { name: other })).toBeVisible();
  await expect(viewer.getByText(slug)).toHaveCount(0);
  await viewer.goto(`/tenants/${slug}`);
  await expect(viewer.getByText("You don't have access to this tenant")).toBeVisible();
  const direct = await viewer.request.get(`/api/trpc/tenants.get?input=${encodeURIComponent(JSON.stringify({ json: { tenant: slug } }))}`);
  expect(direct.status()).toBe(403);
  const directSeries = await viewer.request.get(
    `/api/trpc/stats.series?input=${encodeURIComponent(JSON.stringify({ json: { tenant: slug, from: new Date(0).toISOString(), to: new Date().toISOString() }, meta: { values: { from: ["Date"], to: ["Date"] } } }))}`,
  );
  expect(directSeries.status()).toBe(403);

  // Signing out ends the session: the page goes to sign-in, and the old cookie no longer works.
  const [sessionCookie] = (await viewerContext.cookies()).filter((cookie) => cookie.name === "tidemark_session");
  expect(sessionCookie?.httpOnly).toBe(true);
  await viewer.getByRole("button", { name: "Sign out" }).click();
  await expect(viewer).toHaveURL(/\/sign-in/);
  const replay = await fetch(`${baseURL}/api/trpc/tenants.list`, { headers: { cookie: `tidemark_session=${sessionCookie?.value}` } });
  expect(replay.status).toBe(401);
  await viewerContext.close();
});
