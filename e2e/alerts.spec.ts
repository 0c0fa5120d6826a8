/**
 * Alerts end to end, against the app as `npm start` runs it (e2e/serve.ts
 * evaluates every second): an admin sets a refused-percent rule on the tenant
 * page, a burst over the tenant's rate limit crosses it, the signed
 * alert.firing reaches a receiver this test starts (it verifies every request
 * with the official `standardwebhooks` library), the banner shows on the
 * tenant page and the overview; the limit is raised and accepted traffic
 * brings the share down, and the alert.resolved arrives, once.
 */
import { randomBytes } from "node:crypto";
import { startAlertReceiver, type AlertReceiver } from "../test/alert-receiver.ts";
import { E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD, expect, signIn, signedHeaders, test, tidemark } from "./fixtures.ts";

let receiver: AlertReceiver;
test.beforeAll(async () => {
  receiver = await startAlertReceiver();
  const [target] = await tidemark("alert", "target", "--url", receiver.url);
  receiver.secret = String(target?.secret);
});
test.afterAll(() => receiver.close());

const event = (n: number) => ({
  type: "item.created",
  timestamp: new Date().toISOString(),
  data: { id: `item-${n}`, version: 1, name: `Item ${n}`, category: "e2e", value: n },
});

test("an admin sets an alert, traffic crosses it, the signed alert and its resolution arrive once each, and the banner comes and goes", async ({
  page,
  tenant,
}) => {
  test.setTimeout(240_000);
  await tidemark("tenant", "set-quotas", "--slug", tenant.slug, "--rate", "0.5", "--burst", "5");
  const ofTenant = () => receiver.received.filter((r) => r.body?.data.tenant === tenant.slug);
  const acknowledged = () => receiver.acknowledged().filter((r) => r.body?.data.tenant === tenant.slug);
  const acknowledgedTypes = () => acknowledged().map((r) => r.body?.type);

  await signIn(page, E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD);
  await page.goto(`/tenants/${tenant.slug}`);
  const panel = page.getByRole("region", { name: "Alerts" });
  const form = panel.getByRole("form", { name: "Set an alert rule" });
  // The machine may be busy: the page's first data can take a while.
  await expect(form).toBeVisible({ timeout: 30_000 });
  await form.getByLabel("Rule").selectOption("refused-percent");
  await form.getByLabel(/^Fires above/).fill("20");
  await form.getByLabel("Window (ms)").fill("60000");
  await form.getByRole("button", { name: "Save rule" }).click();
  await expect(panel.getByRole("status")).toHaveText("Saved the refused deliveries rule.", { timeout: 30_000 });
  await expect(panel.locator('tr[data-alert-rule="refused-percent"]')).toContainText("20%", { timeout: 30_000 });

  // 20 events at a burst of 5: about 15 refused (429), well over 20% of the deliveries.
  const statuses: number[] = [];
  for (let n = 0; n < 20; n++) {
    const body = JSON.stringify(event(n));
    statuses.push((await fetch(tenant.webhookUrl, { method: "POST", headers: signedHeaders(tenant.secret, body), body })).status);
  }
  expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(10);

  await expect.poll(acknowledgedTypes, { timeout: 45_000 }).toEqual(["alert.firing"]);
  const [firing] = acknowledged();
  expect(firing?.verified).toBe(true);
  expect(firing?.body).toMatchObject({ type: "alert.firing", data: { tenant: tenant.slug, rule: "refused-percent", threshold: 20 } });
  expect(firing?.body?.data.value).toBeGreaterThan(20);

  const banner = page.getByRole("alert", { name: "Firing alerts" });
  await expect(banner).toContainText("Refused deliveries", { timeout: 30_000 });
  await expect(panel.locator('tr[data-alert-rule="refused-percent"]')).toHaveAttribute("data-state", "firing", { timeout: 30_000 });
  await page.goto("/");
  await expect(page.getByRole("alert", { name: "Firing alerts" }).getByRole("link", { name: tenant.slug })).toBeVisible({ timeout: 30_000 });

  // Recovery: the limit is raised and 100 events are accepted in one batch, so 15-odd refused are under 16% of ~120.
  await tidemark("tenant", "set-quotas", "--slug", tenant.slug, "--rate", "1000", "--burst", "1000");
  const batch = JSON.stringify({ events: Array.from({ length: 100 }, (_, i) => ({ id: `ok-${randomBytes(6).toString("hex")}`, ...event(100 + i) })) });
  const accepted = await fetch(`${tenant.webhookUrl}/batch`, { method: "POST", headers: signedHeaders(tenant.secret, batch), body: batch });
  expect(accepted.status).toBeLessThan(300);

  await expect.poll(acknowledgedTypes, { timeout: 60_000 }).toEqual(["alert.firing", "alert.resolved"]);
  const resolved = acknowledged()[1];
  expect(resolved?.verified).toBe(true);
  expect(resolved?.body).toMatchObject({ type: "alert.resolved", data: { tenant: tenant.slug, rule: "refused-percent", since: firing?.body?.data.since } });
  expect(resolved?.body?.data.value).toBeLessThanOrEqual(16);

  await page.goto(`/tenants/${tenant.slug}`);
  await expect(page.getByRole("region", { name: "Alerts" }).locator('tr[data-history-rule="refused-percent"][data-resolved="true"]')).toBeVisible({
    timeout: 30_000,
  });
  await expect(page.getByRole("alert", { name: "Firing alerts" })).toHaveCount(0);
  // A few more evaluation rounds: nothing more is sent for this tenant, and every request verified.
  await page.waitForTimeout(4_000);
  expect(ofTenant().map((r) => [r.body?.type, r.status])).toEqual([
    ["alert.firing", 204],
    ["alert.resolved", 204],
  ]);
  expect(ofTenant().every((r) => r.verified)).toBe(true);
});
