/**
 * Dirty reads across processes: an admin's change made in one process takes
 * effect on the very next request in another, not after the tenant cache's
 * TTL. "Another process" is a real one (test/webhook-server-process.ts) that
 * has the tenant cached when the change is made here.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestTenant, itemEvent, postSigned } from "../../test/webhooks.ts";
import { rotateSecret, updateQuotas } from "../tenants/service.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
let other: ChildProcess;
let otherUrl: string;

beforeAll(async () => {
  other = spawn(process.execPath, ["--import", "tsx", "test/webhook-server-process.ts"], { cwd: ROOT, env: process.env, stdio: ["ignore", "pipe", "inherit"] });
  const [line] = (await once(createInterface({ input: other.stdout as NodeJS.ReadableStream }), "line")) as [string];
  otherUrl = (JSON.parse(line) as { url: string }).url;
});

afterAll(async () => {
  other.kill("SIGTERM");
  await new Promise((resolve) => other.once("exit", resolve));
});

const body = (id: string) => JSON.stringify(itemEvent("item.created", { id, version: 1 }));

describe("a change in one process, the next request in another", () => {
  it("a daily quota lowered here is enforced by the other process's next request", async () => {
    // A quota of 100, so the day's count is kept from the first event on.
    const tenant = await createTestTenant({ dailyQuota: 100 });
    const url = `${otherUrl}/api/webhooks/${tenant.slug}`;
    expect((await postSigned({ url, secret: tenant.secret, body: body("a") })).status).toBe(202); // cached there now
    await updateQuotas(tenant.slug, { dailyQuota: 1 });
    const next = await postSigned({ url, secret: tenant.secret, body: body("b") });
    expect(next.status).toBe(429);
    expect(((await next.json()) as { error: { code: string } }).error.code).toBe("quota_exceeded");
  });

  it("a secret rotated here with no grace period stops verifying there at once, and the new one verifies", async () => {
    const tenant = await createTestTenant();
    const url = `${otherUrl}/api/webhooks/${tenant.slug}`;
    expect((await postSigned({ url, secret: tenant.secret, body: body("a") })).status).toBe(202);
    const { secret } = await rotateSecret(tenant.slug, 0);
    expect((await postSigned({ url, secret: tenant.secret, body: body("b") })).status).toBe(401);
    expect((await postSigned({ url, secret, body: body("c") })).status).toBe(202);
  });
});
