/**
 * /api/metrics with METRICS_TOKEN set, over HTTP: 401 (with a
 * WWW-Authenticate challenge) without the token or with a wrong one, the
 * exposition with it. Unset, the endpoint is open
 * (server/stats/backlog-metrics.integration.test.ts scrapes it so).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

const TOKEN = vi.hoisted(() => {
  const token = "metrics-token-for-this-test-0123";
  // Before server/env.ts is imported by the route below: it reads the environment once.
  process.env.METRICS_TOKEN = token;
  return token;
});

const { GET } = await import("../../app/api/metrics/route.ts");
const { route, serve } = await import("../../test/http.ts");

let server: Awaited<ReturnType<typeof serve>>;
beforeAll(async () => {
  server = await serve([route("GET", "/api/metrics", GET as never)]);
});
afterAll(() => server.close());

const scrape = (headers: Record<string, string> = {}) => fetch(`${server.url}/api/metrics`, { headers });

describe("/api/metrics behind METRICS_TOKEN", () => {
  it.each([
    ["no Authorization header", {}],
    ["a wrong token", { authorization: "Bearer not-the-metrics-token-at-all" }],
    ["the token one character short", { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
    ["the token under another scheme", { authorization: `Basic ${TOKEN}` }],
  ])("%s: 401 with a Bearer challenge and no metrics", async (_name, headers: Record<string, string>) => {
    const response = await scrape(headers);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect(await response.text()).not.toContain("tidemark_");
  });

  it("the right token: the exposition", async () => {
    const response = await scrape({ authorization: `Bearer ${TOKEN}` });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("tidemark_events_stored_total");
  });
});
