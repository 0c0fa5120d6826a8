/**
 * PostgreSQL that stalls: the network between the app and the database
 * stops forwarding (a TCP proxy of the test's own, test/tcp-proxy.ts, whose
 * stall() keeps every connection open and answers nothing), while requests
 * keep coming. The rules, from outside (HTTP against the webhook servers and
 * the health route handler):
 * - a webhook answers 503 with Retry-After within 5 s, with the default
 *   timeouts (the answer times are printed);
 * - /api/health answers 503 within 2 s;
 * - nothing piles up: requests waiting for a pool connection never exceed
 *   DATABASE_POOL_MAX_WAITING, and the excess is refused at once;
 * - once the network is back, webhooks are accepted again.
 *
 * server/env.ts reads its configuration at import, so the proxy starts and
 * the environment is set before any server module is imported. The pool is
 * small here (4 connections, 4 waiting) so the bound is reached with a few
 * dozen requests; the timeouts are the defaults.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../../test/http.ts";
import { routeThroughProxy } from "../../test/tcp-proxy.ts";

const { proxy } = await routeThroughProxy("DATABASE_URL");
const POOL_SIZE = 4;
const MAX_WAITING = 4;
process.env.DATABASE_POOL_SIZE = String(POOL_SIZE);
process.env.DATABASE_POOL_MAX_WAITING = String(MAX_WAITING);

const { createTestTenant, itemEvent, newEventId, WEBHOOK_SERVERS, signedHeaders } = await import("../../test/webhooks.ts");
const { route, serve } = await import("../../test/http.ts");
const { GET: getHealth } = await import("../../app/api/health/route.ts");
const { forgetTenant } = await import("./tenant-lookup.ts");
const { pool } = await import("../db.ts");

afterAll(async () => {
  await proxy.restore();
  await proxy.close();
});

const WEBHOOK_BOUND_MS = 5_000;
const HEALTH_BOUND_MS = 2_000;

const event = () => JSON.stringify(itemEvent("item.created", { id: `item-${newEventId()}`, version: 1 }));
const batch = () => JSON.stringify({ events: [{ id: newEventId(), ...itemEvent("item.created", { id: `item-${newEventId()}`, version: 1 }) }] });

async function timed(request: () => Promise<Response>): Promise<{ response: Response; body: string; ms: number }> {
  const started = performance.now();
  const response = await request();
  const body = await response.text();
  return { response, body, ms: Math.round(performance.now() - started) };
}

/** After restore(): connections begun during the stall fail once; wait until the pool connects again. */
async function databaseBack(): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await pool.query("SELECT 1");
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function post(url: string, secret: string, body: string): Promise<Response> {
  return fetch(url, { method: "POST", headers: signedHeaders(secret, newEventId(), Math.floor(Date.now() / 1000), body), body });
}

function expectUnavailable(response: Response): void {
  expect(response.status).toBe(503);
  expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
}

/** Waits until a webhook is accepted again (the pool replaces the connections the stall broke). */
async function recovered(url: string, secret: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const response = await post(url, secret, event());
    if (response.status === 202) return;
    if (Date.now() > deadline) throw new Error(`webhooks did not recover: ${response.status}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe.each(WEBHOOK_SERVERS)("$name, PostgreSQL stalled", ({ name, start }) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => {
    await proxy.restore();
    await server.close();
  });

  it(`a webhook answers 503 with Retry-After within ${WEBHOOK_BOUND_MS / 1000} s, cached tenant or not, and is accepted once the network is back`, async () => {
    const tenant = await createTestTenant();
    const single = `${server.url}/api/webhooks/${tenant.slug}`;
    expect((await post(single, tenant.secret, event())).status).toBe(202);

    await proxy.stall();
    const cached = await timed(() => post(single, tenant.secret, event()));
    const batched = await timed(() => post(`${single}/batch`, tenant.secret, batch()));
    await forgetTenant(tenant.slug);
    const uncached = await timed(() => post(single, tenant.secret, event()));
    console.log(`[${name}] answer times with PostgreSQL stalled: single ${cached.ms} ms, batch ${batched.ms} ms, uncached tenant ${uncached.ms} ms`);
    for (const { response, ms } of [cached, batched, uncached]) {
      expectUnavailable(response);
      expect(ms).toBeLessThan(WEBHOOK_BOUND_MS);
    }

    await proxy.restore();
    await databaseBack();
    await recovered(single, tenant.secret);
  });
});

describe("health and the pool, PostgreSQL stalled", () => {
  let health: TestServer;
  let webhooks: TestServer;
  beforeAll(async () => {
    health = await serve([route("GET", "/api/health", getHealth as never)]);
    webhooks = await WEBHOOK_SERVERS[0]!.start();
  });
  afterAll(async () => {
    await proxy.restore();
    await health.close();
    await webhooks.close();
  });

  it(`/api/health answers 503 within ${HEALTH_BOUND_MS / 1000} s`, async () => {
    expect((await fetch(`${health.url}/api/health`)).status).toBe(200);
    await proxy.stall();
    const answers = await Promise.all([1, 2, 3].map(() => timed(() => fetch(`${health.url}/api/health`))));
    console.log(`/api/health answer times with PostgreSQL stalled: ${answers.map((answer) => `${answer.ms} ms`).join(", ")}`);
    for (const { response, body, ms } of answers) {
      expect(response.status).toBe(503);
      expect(JSON.parse(body)).toMatchObject({ ok: false, database: "down" });
      expect(ms).toBeLessThan(HEALTH_BOUND_MS);
    }
    await proxy.restore();
    await databaseBack();
  });

  it(`requests waiting for a connection never exceed ${MAX_WAITING}; the excess gets 503 at once, and all are answered within the bound`, async () => {
    const tenant = await createTestTenant();
    const url = `${webhooks.url}/api/webhooks/${tenant.slug}/batch`;
    expect((await post(url, tenant.secret, batch())).status).toBe(202);

    await proxy.stall();
    let mostWaiting = 0;
    const sampler = setInterval(() => (mostWaiting = Math.max(mostWaiting, pool.waitingCount)), 5);
    const total = POOL_SIZE + MAX_WAITING + 24;
    const answers = await Promise.all(Array.from({ length: total }, () => timed(() => post(url, tenant.secret, batch()))));
    clearInterval(sampler);

    const times = answers.map((answer) => answer.ms).sort((a, b) => a - b);
    const immediate = answers.filter((answer) => answer.ms < 1_000).length;
    console.log(
      `${total} concurrent batches with PostgreSQL stalled: most waiting for a connection ${mostWaiting}, answered in under 1 s ${immediate}, ` +
        `answer times min ${times[0]} ms, median ${times[Math.floor(times.length / 2)]} ms, max ${times.at(-1)} ms`,
    );
    for (const { response } of answers) expectUnavailable(response);
    expect(mostWaiting).toBeLessThanOrEqual(MAX_WAITING);
    // At most POOL_SIZE hold a connection and MAX_WAITING wait for one: every other request is refused at once.
    expect(immediate).toBeGreaterThanOrEqual(total - POOL_SIZE - MAX_WAITING);
    expect(times.at(-1)).toBeLessThan(WEBHOOK_BOUND_MS);

    await proxy.restore();
    await databaseBack();
    await recovered(`${webhooks.url}/api/webhooks/${tenant.slug}`, tenant.secret);
  });
});
