/**
 * With PostgreSQL unreachable from the start (nothing listens on its port),
 * the webhooks answer 503 with a Retry-After and the JSON error body, never a
 * 500 and never a stack, and they answer promptly.
 *
 * server/env.ts reads DATABASE_URL at import, so it is pointed at a closed
 * port before any server module is imported (dynamic imports below).
 */
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestServer } from "../../test/http.ts";

/** A port nothing listens on: bound once by us, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

process.env.DATABASE_URL = `postgresql://postgres@127.0.0.1:${await closedPort()}/unreachable`;
const { newEventId, itemEvent, WEBHOOK_SERVERS, signedHeaders } = await import("../../test/webhooks.ts");
const { generateSecret } = await import("./signature.ts");

let server: TestServer;

const body = JSON.stringify(itemEvent("item.created", { id: "item-1", version: 1 }));

async function expectUnavailable(response: Response): Promise<void> {
  expect(response.status).toBe(503);
  expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  expect(response.headers.get("content-type")).toBe("application/json");
  const json = await response.json();
  expect(json).toEqual({ error: { code: "unavailable", message: expect.any(String) } });
  expect(JSON.stringify(json)).not.toMatch(/ECONNREFUSED|at .*\.ts:\d+/);
}

describe.each(WEBHOOK_SERVERS)("$name", ({ start }) => {
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => server.close());

  describe("database unreachable", () => {
    it("a single event gets 503 with Retry-After and the JSON error body, within the connect timeout", async () => {
      const started = performance.now();
      const id = newEventId();
      const response = await fetch(`${server.url}/api/webhooks/some-tenant`, {
        method: "POST",
        headers: signedHeaders(generateSecret(), id, Math.floor(Date.now() / 1000), body),
        body,
      });
      await expectUnavailable(response);
      // A refused connection fails at once; the pool's connect timeout (5 s) bounds every other case.
      expect(performance.now() - started).toBeLessThan(6_000);
    });

    it("a batch gets 503 with Retry-After and the JSON error body", async () => {
      const batch = JSON.stringify({ events: [{ id: newEventId(), ...itemEvent("item.created", { id: "item-1", version: 1 }) }] });
      const response = await fetch(`${server.url}/api/webhooks/some-tenant/batch`, {
        method: "POST",
        headers: signedHeaders(generateSecret(), newEventId(), Math.floor(Date.now() / 1000), batch),
        body: batch,
      });
      await expectUnavailable(response);
    });
  });
});
