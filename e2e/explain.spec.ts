/**
 * Explanations in the browser, against the real app and its in-app worker: a
 * thin event of a tenant without an item API keeps failing its fetch and
 * waits for its retries, and the item page says why, in the scheduler's
 * words; the tenant page shows the drain estimate beside the backlog chart.
 */
import { E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD, expect, signIn, signedHeaders, test } from "./fixtures.ts";

async function post(url: string, secret: string, body: unknown): Promise<number> {
  const text = JSON.stringify(body);
  return (await fetch(url, { method: "POST", headers: signedHeaders(secret, text), body: text })).status;
}

test("the item page says why a pending event waits, and the tenant page shows the drain ETA", async ({ page, tenant }) => {
  test.setTimeout(120_000);
  const timestamp = new Date().toISOString();
  expect(await post(tenant.webhookUrl, tenant.secret, { type: "item.created", timestamp, data: { id: "applied-1", version: 1, name: "Applied" } })).toBe(202);
  expect(await post(tenant.webhookUrl, tenant.secret, { type: "item.updated", thin: true, timestamp, data: { id: "waiting-1", version: 1 } })).toBe(202);

  await signIn(page, E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD);
  await page.goto(`/tenants/${tenant.slug}/items/waiting-1`);
  const reason = page.getByTestId("waiting-reason");
  await expect(reason).toBeVisible({ timeout: 30_000 });
  // Whichever moment the page catches it in: waiting for its turn with the note that it has no item API,
  // in flight for its fetch, or retrying after the failed fetch (attempt n of 5, next try at …).
  await expect(reason).toContainText(/no item API|waiting for its fetch|retrying after an error, attempt \d of \d/);
  await expect(page.getByTestId("waiting-reasons")).toContainText("Why its event is waiting");
  await test.info().attach("item page", { body: await page.screenshot({ fullPage: true }), contentType: "image/png" });

  await page.goto(`/tenants/${tenant.slug}`);
  const eta = page.getByTestId("backlog-eta");
  await expect(eta).toBeVisible({ timeout: 30_000 });
  await expect(eta).toContainText(/No backlog|waiting|Never at this rate|about/);
  await test.info().attach("tenant page", { body: await eta.screenshot(), contentType: "image/png" });
});
