/**
 * `npm run sim -- push`'s sender against the real webhook handlers: signed
 * single and batch deliveries of the seeded feed, every event answered, the
 * feed's repeats answered as duplicates, and what is stored is the feed's
 * distinct events. The same seed sent again is all duplicates.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { flushWebhookAnswers } from "../ingest/webhook-answers.ts";
import { metrics } from "../metrics.ts";
import { createTestTenant, serveWebhooks } from "../../test/webhooks.ts";
import type { TestServer } from "../../test/http.ts";
import { eventsBetween } from "./feed.ts";
import { push } from "./push.ts";

let server: TestServer;
beforeAll(async () => {
  server = await serveWebhooks();
});
afterAll(async () => {
  await flushWebhookAnswers();
  await server.close();
});

async function responses(endpoint: "single" | "batch"): Promise<number> {
  const { values } = await metrics.webhookResponses.get();
  return values.filter((value) => value.labels.endpoint === endpoint).reduce((sum, value) => sum + value.value, 0);
}

describe("sim push", () => {
  it("sends the feed as signed singles and batches; repeats are duplicates; the distinct events are stored", async () => {
    const tenant = await createTestTenant({ ratePerSecond: 100_000, burst: 100_000 });
    const [singlesBefore, batchesBefore] = [await responses("single"), await responses("batch")];
    const stats = await push({ baseUrl: server.url, tenant: tenant.slug, secret: tenant.secret, ratePerSecond: 2_000, seed: 9, count: 1_000 });

    const feed = eventsBetween({ seed: 9, kind: "live", ratePerSecond: 1_000 }, 0, 1_000);
    const distinct = new Set(feed.map((event) => event.id)).size;
    expect(stats).toMatchObject({ sent: 1_000, conflict: 0, invalid: 0, rateLimited: 0, failed: 0 });
    expect(stats.accepted).toBe(distinct);
    expect(stats.duplicate).toBe(1_000 - distinct);
    expect(await responses("single")).toBeGreaterThan(singlesBefore + 100);
    expect(await responses("batch")).toBeGreaterThan(batchesBefore);
    const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE tenant_id = $1", [tenant.id]);
    expect(rows[0]?.n).toBe(distinct);

    const again = await push({ baseUrl: server.url, tenant: tenant.slug, secret: tenant.secret, ratePerSecond: 2_000, seed: 9, count: 1_000 });
    expect(again).toMatchObject({ sent: 1_000, accepted: 0, duplicate: 1_000 });
  });
});
