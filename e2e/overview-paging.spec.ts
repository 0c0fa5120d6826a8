/**
 * Many tenants and comparisons, in Chromium against the real app: the
 * overview's search narrows 60 tenants (inserted set-based into the app's
 * database) to those matching, its pages step through them 24 at a time,
 * most urgent first (all idle here, so by slug), and a new search starts
 * again at page 1; on a tenant page, "Compare" adds the previous period to
 * the events chart as a dashed line, and the bucket still filling is drawn
 * as partial.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { e2eDatabaseUrl } from "./environment.ts";
import { E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD, expect, signIn, signedHeaders, test } from "./fixtures.ts";

/** The search waits out its debounce and the URL's update; on a busy machine that is seconds. */
const SETTLE = { timeout: 20_000 };

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Inserts `count` tenants `<prefix>-00001` … named `<name> 00001` … with the bench's own set-based insert. */
async function insertTenants(count: number, prefix: string, name: string): Promise<void> {
  const script = `const { insertBulkTenants } = await import("./server/bench/bulk-tenants.ts"); await insertBulkTenants(${count}, "${prefix}", "${name}"); process.exit(0);`;
  await promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: e2eDatabaseUrl() },
  });
}

test("the overview searches and pages through many tenants", async ({ page }) => {
  test.setTimeout(120_000);
  const prefix = `pg${randomBytes(3).toString("hex")}`;
  await insertTenants(60, prefix, `Paged ${prefix}`);
  const name = (n: number) => `Paged ${prefix} ${String(n).padStart(5, "0")}`;

  await signIn(page, E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD);
  const cards = page.getByRole("list", { name: "Tenants" }).getByRole("heading", { level: 2 });
  const pager = page.getByRole("navigation", { name: "Tenant pages" });
  const search = page.getByRole("searchbox", { name: "Search tenants" });

  await search.fill(prefix.toUpperCase());
  await expect(pager.getByRole("status")).toHaveText(`Tenants 1–24 of 60 matching “${prefix.toUpperCase()}” · page 1 of 3`, SETTLE);
  await expect(cards).toHaveCount(24);
  await expect(cards.first()).toHaveText(name(1));
  await expect(page).toHaveURL(new RegExp(`[?&]q=${prefix.toUpperCase()}`));

  await pager.getByRole("button", { name: "Next" }).click();
  await expect(pager.getByRole("status")).toContainText("Tenants 25–48 of 60", SETTLE);
  await expect(cards.first()).toHaveText(name(25));
  await pager.getByRole("button", { name: "Next" }).click();
  await expect(pager.getByRole("status")).toContainText("Tenants 49–60 of 60", SETTLE);
  await expect(cards).toHaveCount(12);
  await expect(cards.last()).toHaveText(name(60));
  await expect(pager.getByRole("button", { name: "Next" })).toBeDisabled();
  await expect(page).toHaveURL(/[?&]page=3/);

  // A narrower search starts again at page 1: "-0004" is 00040 … 00049.
  await search.fill(`${prefix}-0004`);
  await expect(pager.getByRole("status")).toHaveText(`Tenants 1–10 of 10 matching “${prefix}-0004” · page 1 of 1`, SETTLE);
  await expect(cards).toHaveCount(10);
  await expect(cards.first()).toHaveText(name(40));
  await expect(page).not.toHaveURL(/[?&]page=/);

  await search.fill(`${prefix}-nothing`);
  await expect(page.getByRole("heading", { name: `No tenants match “${prefix}-nothing”` })).toBeVisible(SETTLE);
});

test("the compare toggle draws the previous period as a dashed series, and the last bucket as partial", async ({ page, tenant }, testInfo) => {
  test.setTimeout(120_000);
  for (let item = 0; item < 5; item++) {
    const body = JSON.stringify({ type: "item.created", timestamp: new Date().toISOString(), data: { id: `item-${item}`, version: 1, name: `Item ${item}` } });
    expect((await fetch(tenant.webhookUrl, { method: "POST", headers: signedHeaders(tenant.secret, body), body })).status).toBe(202);
  }
  await signIn(page, E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD);
  await page.goto(`/tenants/${tenant.slug}?range=1h`);
  const events = page.locator("section.chart-panel", { has: page.getByRole("heading", { name: "Events received", exact: true }) });
  await expect(events.locator(".recharts-area").first()).toBeVisible({ timeout: 30_000 });
  await expect(events.locator(".partial-bucket")).toHaveCount(1);
  await expect(events.locator(".previous-period")).toHaveCount(0);

  await page.getByLabel("Compare with previous 1 hour").check();
  await expect(page).toHaveURL(/[?&]compare=1/);
  const dashed = events.locator(".previous-period path.recharts-curve");
  await expect(dashed).toHaveCount(1, SETTLE);
  await expect(dashed).toHaveAttribute("stroke-dasharray", "6 4");
  await expect(events.getByText("Dashed: previous period")).toBeVisible();
  await events.screenshot({ path: testInfo.outputPath("events-compared.png") });
  await testInfo.attach("events chart, compared", { path: testInfo.outputPath("events-compared.png"), contentType: "image/png" });

  await page.getByLabel("Compare with previous 1 hour").uncheck();
  await expect(events.locator(".previous-period")).toHaveCount(0);
});
