/**
 * Webhook answers that store nothing still show on the dashboard: redelivered
 * duplicates, conflicts, invalid events and rate-limited events are counted
 * per tenant and minute, and reach the rollups when flushed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCaller } from "../api/root.ts";
import { createContextInner } from "../api/trpc.ts";
import type { TestServer } from "../../test/http.ts";
import { createTestTenant, itemEvent, newEventId, postSigned, WEBHOOK_SERVERS } from "../../test/webhooks.ts";
import { flushWebhookAnswers } from "./webhook-answers.ts";

let server: TestServer;

const admin = createCaller(createContextInner({ user: { id: 0, email: "admin@test.example", role: "admin", tenantIds: [] } }));

describe.each(WEBHOOK_SERVERS)("$name", ({ start }) => {
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => server.close());

  describe("webhook answers in the rollups", () => {
    it("counts redelivered, conflicting, invalid and rate-limited posts for the tenant", async () => {
      // Three tokens: the accepted post, the redelivery and the conflict spend them (invalid events spend none).
      const tenant = await createTestTenant({ ratePerSecond: 0.01, burst: 3 });
      const url = `${server.url}/api/webhooks/${tenant.slug}`;
      const body = (version: number) => JSON.stringify(itemEvent("item.created", { id: "a", version }));
      const id = newEventId();
      const post = (payload: string, eventId = newEventId()) => postSigned({ url, secret: tenant.secret, id: eventId, body: payload });

      expect((await post(body(1), id)).status).toBe(202);
      expect((await post(body(1), id)).status).toBe(200);
      expect((await post(body(2), id)).status).toBe(409);
      expect((await post(JSON.stringify({ type: "item.created" }))).status).toBe(422);
      expect((await post(body(3))).status).toBe(429);
      expect((await post(body(4))).status).toBe(429);

      const batch = JSON.stringify({
        events: [
          { id: "ok", ...itemEvent("item.created", { id: "b", version: 1 }) },
          { id: "bad", type: "nope" },
        ],
      });
      expect((await postSigned({ url: `${url}/batch`, secret: tenant.secret, body: batch })).status).toBe(429);

      await flushWebhookAnswers();
      const now = Date.now();
      const { totals } = await admin.stats.series({ tenant: tenant.slug, from: new Date(now - 3_600_000), to: new Date(now + 60_000) });
      // The refused batch: its invalid event counts as invalid, its valid one as rate-limited.
      expect({ redelivered: totals.redelivered, conflicts: totals.conflicts, invalid: totals.invalid, rateLimited: totals.rateLimited }).toEqual({
        redelivered: 1,
        conflicts: 1,
        invalid: 2,
        rateLimited: 3,
      });
    });

    it("does not count posts that were not authenticated", async () => {
      const tenant = await createTestTenant();
      const stranger = await createTestTenant();
      const url = `${server.url}/api/webhooks/${tenant.slug}`;
      expect((await postSigned({ url, secret: stranger.secret, body: JSON.stringify({ type: "nope" }) })).status).toBe(401);
      await flushWebhookAnswers();
      const now = Date.now();
      const { totals } = await admin.stats.series({ tenant: tenant.slug, from: new Date(now - 3_600_000), to: new Date(now + 60_000) });
      expect(totals.invalid).toBe(0);
    });
  });
});
