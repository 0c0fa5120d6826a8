/**
 * Scale-out, tested: two app processes and three `npm run worker` processes
 * (real processes, server/cli/worker.ts) on one PostgreSQL database and one
 * Redis (this file's key prefix).
 *
 * The app processes are the production webhook fast path in processes of
 * their own (server/chaos/webhook-app.ts: what server/cli/serve.ts answers
 * webhooks with, without Next.js, whose build a test cannot wait for);
 * `npm run chaos` runs the whole production server.
 *
 * - Fairness across processes: three tenants of weights 1, 2 and 3, all
 *   backlogged, drained by the three worker processes together; while all
 *   three are still backlogged, each one's processed count divided by its
 *   weight is within 10% of the others'.
 * - A converging workload: one tenant receives every event of its histories
 *   at both apps (webhooks, singles and batches, concurrently) and pulls a
 *   source (the simulated upstream) at the same time; the final state is the
 *   model's over both.
 * - Shared rate limits: a burst at a tenant spread over both apps gets the
 *   tenant's burst through once, not once per app; the control, an app on
 *   another key prefix (its own limiter), lets the tenant through again.
 */
import { createWriteStream, mkdtempSync, type WriteStream } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { modelState } from "../core/model.ts";
import { setSource } from "../collector/sources.ts";
import { sign } from "../ingest/signature.ts";
import { encodeCursor, eventsBetween, toBody, type FeedSpec } from "../sim/feed.ts";
import { startSimServer, type SimServer } from "../sim/upstream.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { waitFor } from "../../test/worker.ts";
import { modelDifferences } from "./checks.ts";
import { deliverAll, newDeliveryLog } from "./deliver.ts";
import { tenantHistories, type Delivery, type PlannedEvent } from "./plan.ts";
import { appProcess, freePort, workerProcess, type Managed } from "./processes.ts";

const QUANTUM = 20;
const BACKLOG = 4_000;
const say = () => undefined;

let log: WriteStream;
let sim: SimServer;
const apps: Managed[] = [];
const workers: Managed[] = [];
const appUrls: string[] = [];
const children = () => [...apps, ...workers];
const env = (): NodeJS.ProcessEnv => ({
  ...process.env,
  LOG_LEVEL: "warn",
  DATABASE_POOL_SIZE: "4",
  WORKER_CONCURRENCY: "2",
  WORKER_QUANTUM: String(QUANTUM),
  WORKER_POLL_MS: "50",
  COLLECTOR_CONCURRENCY: "1",
});

beforeAll(async () => {
  log = createWriteStream(path.join(mkdtempSync(path.join(tmpdir(), "tidemark-scale-out-")), "processes.log"));
  sim = await startSimServer({ latencyMs: 20 });
  const taken = new Set<number>();
  for (let index = 0; index < 2; index++) {
    const port = await freePort(null, taken);
    appUrls.push(`http://127.0.0.1:${port}`);
    apps.push(appProcess(`app-${index}`, port, env(), log, say, true));
  }
  for (let index = 0; index < 3; index++) workers.push(workerProcess(`worker-${index}`, env(), log, say));
  await Promise.all(apps.map((app) => app.start()));
}, 120_000);

afterAll(async () => {
  await Promise.all(children().map((child) => child.stop()));
  await sim?.close();
  await new Promise((resolve) => log.end(resolve));
});

async function post(url: string, secret: string, id: string, body: string): Promise<number> {
  const timestamp = Math.floor(Date.now() / 1000);
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": sign(secret, id, timestamp, body),
    },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

async function doneCounts(tenantIds: number[]): Promise<number[]> {
  const { rows } = await pool.query<{ tenant_id: number; n: number }>(
    "SELECT tenant_id, count(*)::int AS n FROM events WHERE tenant_id = ANY($1) AND status = 'done' GROUP BY tenant_id",
    [tenantIds],
  );
  return tenantIds.map((id) => rows.find((row) => row.tenant_id === id)?.n ?? 0);
}

describe("scale-out: two app processes, three worker processes, one PostgreSQL, one Redis", () => {
  it("three worker processes share one ring: while backlogged, each tenant's share follows its weight within 10%", { timeout: 180_000 }, async () => {
    const weights = [1, 2, 3];
    const tenants = [];
    for (const weight of weights) tenants.push(await createTestTenant({ weight, maxConcurrency: 16, ratePerSecond: 1_000_000, burst: 10_000_000 }));
    // The backlogs arrive through both apps, before any worker runs.
    let request = 0;
    for (const tenant of tenants) {
      for (let batch = 0; batch < BACKLOG / 500; batch++) {
        const events = Array.from({ length: 500 }, (_, k) => ({
          id: `fair-${tenant.id}-${batch}-${k}`,
          type: "item.updated",
          timestamp: "2026-11-27T10:00:00Z",
          data: { id: `item-${k % 50}`, version: batch * 500 + k + 1, name: "n", category: "c", value: 1, refs: [] },
        }));
        const status = await post(
          `${appUrls[request++ % 2]}/api/webhooks/${tenant.slug}/batch`,
          tenant.secret,
          `fair-${tenant.id}-${batch}`,
          JSON.stringify({ events }),
        );
        expect(status >= 200 && status < 300, `batch answered ${status}`).toBe(true);
      }
    }
    const ids = tenants.map((tenant) => tenant.id);
    expect(await doneCounts(ids)).toEqual([0, 0, 0]);

    await Promise.all(workers.map((worker) => worker.start()));
    // Measured while every tenant still has a backlog: the weight-3 tenant gets half of the work, so at 6,000 it has done about 3,000 of its 4,000.
    await waitFor(async () => (await doneCounts(ids)).reduce((a, b) => a + b, 0) >= 6_000, 120_000);
    const done = await doneCounts(ids);
    for (const count of done) expect(count).toBeLessThan(BACKLOG);
    const perWeight = done.map((count, index) => count / (weights[index] as number));
    expect(Math.max(...perWeight) / Math.min(...perWeight), `done ${done.join(", ")} for weights ${weights.join(", ")}`).toBeLessThanOrEqual(1.1);
  });

  it("a tenant fed through both apps and a source at once converges to the model", { timeout: 180_000 }, async () => {
    await Promise.all(workers.map((worker) => worker.start()));
    const tenant = await createTestTenant({ maxConcurrency: 8, ratePerSecond: 1_000_000, burst: 10_000_000 });
    const feed: Extract<FeedSpec, { kind: "fixed" }> = { seed: 21, kind: "fixed", total: 1_000 };
    await setSource(tenant, { url: sim.feedUrl(feed), pageSize: 50, intervalMs: 100 });

    // Every event goes to both apps (deliveries 2k and 2k+1 go to app 0 and app 1), some alone, some in batches.
    const events = tenantHistories(21, 0, 1_500);
    const deliveries: Delivery[] = [];
    for (let at = 0, batch = 0; at < events.length; batch++) {
      const size = batch % 3 === 0 ? 1 : 25;
      const slice = events.slice(at, at + size);
      at += size;
      const delivery: Delivery =
        size === 1
          ? { channel: "single", atMs: 0, tenant: 0, event: slice[0] as PlannedEvent }
          : { channel: "batch", atMs: 0, tenant: 0, batchId: `converge-${batch}`, events: slice };
      deliveries.push(delivery, delivery);
    }
    const delivered = newDeliveryLog();
    await deliverAll(deliveries, { apps: appUrls, tenants: [{ slug: tenant.slug, secret: tenant.secret }] }, 8, Date.now(), delivered);
    expect(delivered.unexpected).toEqual([]);
    expect(delivered.acknowledged.size).toBe(events.length);

    await waitFor(async () => {
      const { rows } = await pool.query<{ cursor: string | null; unfinished: number }>(
        `SELECT (SELECT cursor FROM sources WHERE tenant_id = $1) AS cursor,
                (SELECT count(*)::int FROM events WHERE tenant_id = $1 AND status = 'pending') AS unfinished`,
        [tenant.id],
      );
      return rows[0]?.cursor === encodeCursor(feed.total) && rows[0].unfinished === 0;
    }, 120_000);

    const pulled = eventsBetween(feed, 0, feed.total).map((event) => ({ eventId: event.id, body: toBody(event) }));
    const pushed = events.map((event) => ({ eventId: event.id, body: event.body }));
    const { items, differences } = await modelDifferences(pool, new Map([[tenant.id, modelState([...pushed, ...pulled])]]));
    expect(differences).toEqual([]);
    expect(items).toBeGreaterThan(100);
  });

  it(
    "a tenant's rate limit holds across both apps; an app with a limiter of its own (the control) lets the burst through again",
    { timeout: 120_000 },
    async () => {
      const burst = 10;
      const rate = 1;
      const tenant = await createTestTenant({ ratePerSecond: rate, burst });
      const body = (n: number) => JSON.stringify({ type: "item.created", timestamp: "2026-11-27T10:00:00Z", data: { id: `limited-${n}`, version: 1 } });
      const burstAt = async (urls: string[], prefix: string) => {
        const started = Date.now();
        const statuses = await Promise.all(
          Array.from({ length: 60 }, (_, n) => post(`${urls[n % urls.length]}/api/webhooks/${tenant.slug}`, tenant.secret, `${prefix}-${n}`, body(n))),
        );
        return {
          statuses,
          seconds: (Date.now() - started) / 1000,
          perApp: urls.map((_, app) => statuses.filter((s, n) => n % urls.length === app && s === 202).length),
        };
      };

      const shared = await burstAt(appUrls, "shared");
      const accepted = shared.statuses.filter((status) => status === 202).length;
      expect(shared.statuses.filter((status) => status !== 202 && status !== 429)).toEqual([]);
      // One bucket: the burst plus what refills during the requests, whichever app answered.
      expect(accepted).toBeGreaterThanOrEqual(burst);
      expect(accepted).toBeLessThanOrEqual(burst + Math.ceil(rate * shared.seconds) + 1);
      // Which app's requests win the shared bucket is not a property: concurrent requests of one tenant are
      // decided together per process (server/ingest/rate-limit.ts), so one app may take all of it.

      // Control: an app whose limiter is not shared (another key prefix) has a full bucket of its own.
      const port = await freePort(null, new Set());
      const loner = appProcess("app-own-limiter", port, { ...env(), REDIS_KEY_PREFIX: `${process.env.REDIS_KEY_PREFIX}loner:` }, log, say, true);
      apps.push(loner);
      await loner.start();
      const control = await burstAt([`http://127.0.0.1:${port}`], "control");
      expect(control.statuses.filter((status) => status === 202).length).toBeGreaterThanOrEqual(burst);
    },
  );
});
