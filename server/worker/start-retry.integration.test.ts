/**
 * A database blip while the app boots must not leave a process serving with
 * no workers: the in-app worker's start is retried until it runs, and
 * /api/health says 503 (workers "retrying") meanwhile. From outside: the
 * health route handler over HTTP, a webhook posted over HTTP, and the
 * event's status read with a client of the test's own.
 *
 * A TCP proxy (test/tcp-proxy.ts) sits between this file's app and its
 * database; server/env.ts reads its configuration at import, so the proxy
 * and the environment are set up before any server module is imported.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../../test/http.ts";
import { routeThroughProxy } from "../../test/tcp-proxy.ts";

const { proxy, directUrl } = await routeThroughProxy("DATABASE_URL");
process.env.WORKER_CONCURRENCY = "1";
process.env.COLLECTOR_CONCURRENCY = "0";
process.env.WORKER_POLL_MS = "100";

const { createTestTenant, itemEvent, postSigned, serveWebhooks } = await import("../../test/webhooks.ts");
const { route, serve } = await import("../../test/http.ts");
const { GET: getHealth } = await import("../../app/api/health/route.ts");
const { startApp } = await import("../app-lifecycle.ts");

let health: TestServer;
let webhooks: TestServer;
let direct: pg.Client;
let stopWorker: (() => Promise<void>) | undefined;
beforeAll(async () => {
  health = await serve([route("GET", "/api/health", getHealth as never)]);
  webhooks = await serveWebhooks();
  direct = new pg.Client({ connectionString: directUrl });
  await direct.connect();
});
afterAll(async () => {
  await proxy.restore();
  await stopWorker?.();
  await health.close();
  await webhooks.close();
  await direct.end();
  await proxy.close();
});

async function healthNow(): Promise<{ status: number; body: { ok: boolean; database: string; workers: string } }> {
  const response = await fetch(`${health.url}/api/health`);
  return { status: response.status, body: (await response.json()) as { ok: boolean; database: string; workers: string } };
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("the in-app worker's start", () => {
  it("is retried after the database was unreachable at boot: health says 503 until the workers run, then the pending event is applied", async () => {
    const tenant = await createTestTenant();
    const body = JSON.stringify(itemEvent("item.created", { id: "item-boot", version: 1 }));
    const posted = await postSigned({ url: `${webhooks.url}/api/webhooks/${tenant.slug}`, secret: tenant.secret, body, id: "evt-boot" });
    expect(posted.status).toBe(202);

    await proxy.cut();
    const worker = await startApp();
    stopWorker = () => worker?.stop(1_000) ?? Promise.resolve();
    const down = await healthNow();
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ ok: false, workers: "retrying" });

    await proxy.restore();
    const started = performance.now();
    const up = await eventually(
      "the worker's start",
      async () => {
        const now = await healthNow();
        return now.body.workers === "running" ? now : undefined;
      },
      40_000,
    );
    console.log(`the worker ran ${Math.round(performance.now() - started)} ms after the database came back`);
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ ok: true, database: "up", workers: "running" });

    const status = await eventually(
      "the event's processing",
      async () => {
        const { rows } = await direct.query<{ status: string }>("SELECT status FROM events WHERE tenant_id = $1 AND event_id = 'evt-boot'", [tenant.id]);
        return rows[0]?.status === "done" ? rows[0].status : undefined;
      },
      20_000,
    );
    expect(status).toBe("done");
  });
});
