/**
 * The real Next.js server in real Chromium: the page renders and sees its
 * database, and the webhook route handlers answer as docs/design.md's contract says.
 */
import { expect, signedHeaders, test } from "./fixtures.ts";

const event = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ type: "item.created", timestamp: new Date().toISOString(), data: { id, version: 1, name: "Smoke", value: 1.5 }, ...extra });

test("the home page shows the Tidemark heading and a healthy database", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1, name: "Tidemark" })).toBeVisible();
  await expect(page.getByRole("status")).toContainText("database up");
});

test("a signed event is accepted with 202, and the same event again is a 200 duplicate", async ({ tenant }) => {
  const body = event("item-1");
  const headers = signedHeaders(tenant.secret, body);
  const first = await fetch(tenant.webhookUrl, { method: "POST", headers, body });
  expect(first.status).toBe(202);
  expect(await first.json()).toEqual({ status: "accepted" });
  const again = await fetch(tenant.webhookUrl, { method: "POST", headers, body });
  expect(again.status).toBe(200);
  expect(await again.json()).toEqual({ status: "duplicate" });
});

test("an event signed with another secret is refused with 401", async ({ tenant }) => {
  const body = event("item-1");
  const stranger = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
  const response = await fetch(tenant.webhookUrl, { method: "POST", headers: signedHeaders(stranger, body), body });
  expect(response.status).toBe(401);
  expect((await response.json()).error.code).toBe("invalid_signature");
});

test("a body over 256 KiB is refused with 413", async ({ tenant }) => {
  const body = event("item-big", { padding: "x".repeat(300 * 1024) });
  const response = await fetch(tenant.webhookUrl, { method: "POST", headers: signedHeaders(tenant.secret, body), body });
  expect(response.status).toBe(413);
  expect((await response.json()).error.code).toBe("payload_too_large");
});

test("a signed batch reports each event's outcome and is accepted with 202", async ({ tenant }) => {
  const body = JSON.stringify({
    events: [
      { id: "evt-ok", type: "item.created", timestamp: new Date().toISOString(), data: { id: "item-1", version: 1 } },
      { id: "evt-bad", type: "item.created", timestamp: new Date().toISOString(), data: { id: "item-2", version: 0 } },
    ],
  });
  const response = await fetch(`${tenant.webhookUrl}/batch`, { method: "POST", headers: signedHeaders(tenant.secret, body), body });
  expect(response.status).toBe(202);
  const { results } = (await response.json()) as { results: { id: string; status: string }[] };
  expect(results.map(({ id, status }) => ({ id, status }))).toEqual([
    { id: "evt-ok", status: "accepted" },
    { id: "evt-bad", status: "invalid" },
  ]);
});
