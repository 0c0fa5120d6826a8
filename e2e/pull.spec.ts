/**
 * Pull mode end to end, against the app as `npm start` runs it on a fresh
 * database (e2e/serve.ts): the first start seeded the demo tenant with the
 * app's own simulated feed as its source, so its events are processed
 * within 60 s of the app starting, with nothing configured, and an admin can
 * pause and resume it; an admin points a new tenant at an upstream from the
 * admin page, watches it pull, and removes it, and the token never comes back.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD, expect, signIn, test, tidemark } from "./fixtures.ts";
import { e2eDatabaseUrl } from "./environment.ts";

async function query<Row extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<Row[]> {
  const client = new pg.Client({ connectionString: e2eDatabaseUrl() });
  await client.connect();
  try {
    return (await client.query<Row>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** When the app process started (its own metric), in epoch ms. */
async function appStartedAt(baseURL: string): Promise<number> {
  const text = await (await fetch(`${baseURL}/api/metrics`)).text();
  const match = /^process_start_time_seconds (\d+(?:\.\d+)?)$/m.exec(text);
  if (!match) throw new Error("no process start time in /api/metrics");
  return Number(match[1]) * 1000;
}

test("the demo tenant pulls its simulated feed on the first start: processed within 60 s, visible, and an admin can pause it", async ({ page, baseURL }) => {
  test.setTimeout(180_000);
  const startedAt = await appStartedAt(baseURL as string);
  // The first processed demo event, however late this test runs after the start.
  await expect
    .poll(
      async () =>
        (
          await query<{ first: Date | null }>(
            "SELECT min(e.processed_at) AS first FROM events e JOIN tenants t ON t.id = e.tenant_id WHERE t.slug = 'demo' AND e.status = 'done'",
          )
        )[0]?.first ?? null,
      { timeout: 60_000 },
    )
    .not.toBeNull();
  const [{ first } = { first: null }] = await query<{ first: Date }>(
    "SELECT min(e.processed_at) AS first FROM events e JOIN tenants t ON t.id = e.tenant_id WHERE t.slug = 'demo' AND e.status = 'done'",
  );
  expect((first as Date).getTime() - startedAt).toBeLessThan(60_000);

  await signIn(page, E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD);
  const card = page.getByRole("listitem").filter({ has: page.getByRole("heading", { name: "Demo tenant" }) });
  // Catching up on the minute of history it starts with is paced by the demo tenant's rate limit.
  await expect(card.locator("[data-source]")).toHaveAttribute("data-source", /^(Pulling|Catching up|Rate-limited)$/);

  await page.goto("/tenants/demo?range=1h");
  const source = page.getByRole("region", { name: /^Source/ });
  await expect(source.getByText("Events stored").locator("xpath=following-sibling::dd")).not.toHaveText("0");
  await expect(source.locator(".mono").first()).toContainText("/api/sim/demo/events");
  const totals = page.getByRole("region", { name: "Totals" });
  await expect(totals.getByText("Received").locator("xpath=following-sibling::dd")).not.toHaveText("0", { timeout: 30_000 });
  await expect(page.getByRole("heading", { name: "Events received", level: 2 })).toBeVisible();

  // Paused from the admin page, the source stops; resumed, it goes on.
  await page.goto("/admin/tenants?q=demo");
  await page.getByRole("row", { name: /^demo/ }).getByRole("button", { name: "Source" }).click();
  await page.getByRole("button", { name: "Pause" }).click();
  await expect(page.locator("#tenant-editor [data-source-state]")).toHaveAttribute("data-source-state", "Source paused");
  const [paused] = await tidemark("source", "status", "--tenant", "demo");
  expect(paused).toMatchObject({ paused: true });
  await page.getByRole("button", { name: "Resume" }).click();
  await expect(page.locator("#tenant-editor [data-source-state]")).not.toHaveAttribute("data-source-state", "Source paused");
});

test("an admin sets a source on the admin page, sees it pulled to the end, and removes it; the token is never shown", async ({ page, baseURL }) => {
  test.setTimeout(120_000);
  const slug = `pull-${randomBytes(3).toString("hex")}`;
  await tidemark("tenant", "create", "--slug", slug, "--rate", "10000", "--burst", "10000");
  const feed = `${baseURL}/api/sim/seed-5-total-300/events`;

  await signIn(page, E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD);
  await page.goto(`/admin/tenants?q=${slug}`);
  await page
    .getByRole("row", { name: new RegExp(`^${slug}`) })
    .getByRole("button", { name: "Source" })
    .click();
  const form = page.getByRole("form", { name: `Source of ${slug}` });
  await form.getByLabel("URL", { exact: true }).fill("ftp://nowhere");
  await form.getByRole("button", { name: "Set source" }).click();
  await expect(form.getByText("must be an http:// or https:// URL")).toBeVisible();
  await form.getByLabel("URL", { exact: true }).fill(feed);
  await form.getByLabel("Bearer token").fill("e2e-token-never-shown");
  await form.getByLabel("Interval (ms)").fill("500");
  await form.getByRole("button", { name: "Set source" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Saved the source of ${slug}.` })).toBeVisible();

  await page.goto(`/tenants/${slug}?range=1h`);
  const source = page.getByRole("region", { name: /^Source/ });
  await expect(source.getByText("Pages committed").locator("xpath=following-sibling::dd")).toHaveText("3", { timeout: 30_000 });
  await expect(source).toContainText("bearer token set");
  await expect(page.locator("body")).not.toContainText("e2e-token-never-shown");
  const [status] = await tidemark("source", "status", "--tenant", slug);
  expect(status).toMatchObject({ url: feed, hasToken: true, pagesCommitted: 3, consecutiveFailures: 0, lastError: null });
  expect(JSON.stringify(status)).not.toContain("e2e-token-never-shown");

  // The item API of the same simulated upstream, through the app's route.
  const item = await fetch(`${baseURL}/api/sim/seed-5-total-300/items/whale-0`);
  expect(item.status).toBe(200);
  expect(await item.json()).toMatchObject({ id: "whale-0" });
  expect((await fetch(`${baseURL}/api/sim/seed-5-total-300/items/no-such-item`)).status).toBe(404);

  await page.goto(`/admin/tenants?q=${slug}`);
  await page
    .getByRole("row", { name: new RegExp(`^${slug}`) })
    .getByRole("button", { name: "Source" })
    .click();
  await page.getByRole("button", { name: "Remove source" }).click();
  await page
    .getByRole("group", { name: /Remove the source/ })
    .getByRole("button", { name: "Remove" })
    .click();
  await expect(page.getByRole("status").filter({ hasText: `Removed the source of ${slug}.` })).toBeVisible();
  await expect(tidemark("source", "status", "--tenant", slug)).rejects.toThrow(/not_found/);
});
