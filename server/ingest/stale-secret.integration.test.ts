/**
 * Dirty reads from a stale cache, on the webhook path: a secret rotated by
 * another process (the admin CLI, another app instance) must verify at once
 * in a process that cached the tenant before the rotation; and bad
 * signatures must not turn that revalidation into a query per post.
 *
 * "Another process" is simulated by changing the tenant row with SQL, which
 * is all another process does: this process's cache is not told.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { db, pool } from "../db.ts";
import { generateSecret } from "./signature.ts";
import { secretKeyring } from "../secrets/keyring.ts";
import { seal } from "../secrets/secret-box.ts";
import { createTestTenant, itemEvent, postSigned, WEBHOOK_SERVERS } from "../../test/webhooks.ts";
import type { TestServer } from "../../test/http.ts";

let server: TestServer;
afterEach(() => vi.restoreAllMocks());

const body = () => JSON.stringify(itemEvent("item.created", { id: `item-${Math.random()}`, version: 1 }));

async function rotateElsewhere(tenantId: number, oldSecret: string): Promise<string> {
  const secret = generateSecret();
  await pool.query("UPDATE tenants SET secret = $2, previous_secret = $3, previous_secret_expires_at = now() + interval '1 day' WHERE id = $1", [
    tenantId,
    seal(secretKeyring(), "webhook-secret", secret),
    seal(secretKeyring(), "webhook-secret", oldSecret),
  ]);
  return secret;
}

describe.each(WEBHOOK_SERVERS)("$name", ({ start }) => {
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => server.close());

  describe("a secret rotated in another process", () => {
    it("verifies at once, though this process cached the tenant with the old secret", async () => {
      const tenant = await createTestTenant();
      const url = `${server.url}/api/webhooks/${tenant.slug}`;
      expect((await postSigned({ url, secret: tenant.secret, body: body() })).status).toBe(202); // cached now
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // older than REVALIDATE_AFTER_MS, younger than the 5 s TTL

      const secret = await rotateElsewhere(tenant.id, tenant.secret);
      expect((await postSigned({ url, secret, body: body() })).status).toBe(202);
      // The old secret keeps verifying during its grace period.
      expect((await postSigned({ url, secret: tenant.secret, body: body() })).status).toBe(202);
    });

    it("bad signatures reload the tenant at most once per second, however many arrive", async () => {
      const tenant = await createTestTenant();
      const url = `${server.url}/api/webhooks/${tenant.slug}`;
      expect((await postSigned({ url, secret: tenant.secret, body: body() })).status).toBe(202);
      await new Promise((resolve) => setTimeout(resolve, 1_100));

      const query = vi.spyOn(db.tenant, "findUnique");
      const wrong = generateSecret();
      const started = performance.now();
      const statuses: number[] = [];
      for (let wave = 0; wave < 3; wave++) {
        statuses.push(...(await Promise.all(Array.from({ length: 30 }, () => postSigned({ url, secret: wrong, body: body() }).then((r) => r.status)))));
      }
      const elapsedMs = performance.now() - started;
      expect(statuses.every((status) => status === 401)).toBe(true);
      // 90 bad posts: one reload, plus one more for each further second they took.
      expect(query.mock.calls.length).toBeGreaterThanOrEqual(1);
      expect(query.mock.calls.length).toBeLessThanOrEqual(1 + Math.floor(elapsedMs / 1_000));
    });
  });
});
