/**
 * Every answer of the production server's node:http layer carries the
 * security headers, over real HTTP: a signed webhook and a batch on the fast
 * path, a refused webhook, a path that does not decode, and whatever the
 * fallback (Next.js, in production) answers. HSTS only over TLS: never for a
 * client's own X-Forwarded-Proto with no trusted proxy, on a trusted proxy's
 * `https`, and on an https listener's own TLS. The control asks the same of
 * the route handlers served without this layer and finds the headers missing,
 * so the check can fail. (Next.js's own answers: e2e/security.spec.ts.)
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { securityHeaderProblems } from "../../test/security-headers.ts";
import { createTestTenant, itemEvent, newEventId, postSigned, serveFastPath, serveWebhooks } from "../../test/webhooks.ts";
import type { TestServer } from "../../test/http.ts";
import { withSecurityHeaders } from "./fast-path.ts";

let direct: TestServer;
let behindProxy: TestServer;
let tenant: Awaited<ReturnType<typeof createTestTenant>>;

beforeAll(async () => {
  direct = await serveFastPath({ trustedHops: 0 });
  behindProxy = await serveFastPath({ trustedHops: 1 });
  tenant = await createTestTenant();
});

afterAll(async () => {
  await direct.close();
  await behindProxy.close();
});

/** One of each kind of answer the layer gives, with `headers` added to each request. */
async function answers(server: TestServer, headers: Record<string, string> = {}): Promise<Record<string, Response>> {
  const body = JSON.stringify(itemEvent("item.created", { id: "item-1", version: 1 }));
  const batch = JSON.stringify({ events: [{ id: newEventId(), ...itemEvent("item.updated", { id: "item-1", version: 2 }) }] });
  const url = `${server.url}/api/webhooks/${tenant.slug}`;
  return {
    "signed webhook (202)": await postSigned({ url, secret: tenant.secret, body, headers }),
    "signed batch (202)": await postSigned({ url: `${url}/batch`, secret: tenant.secret, body: batch, headers }),
    "unsigned webhook (400)": await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body }),
    "undecodable path (400)": await fetch(`${server.url}/tenants/%E0%A4%A`, { headers }),
    "the fallback's answer (404)": await fetch(`${server.url}/sign-in`, { headers }),
  };
}

async function problems(server: TestServer, overTls: boolean, headers: Record<string, string> = {}): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = {};
  for (const [kind, response] of Object.entries(await answers(server, headers))) {
    await response.arrayBuffer();
    found[`${kind} → ${response.status}`] = securityHeaderProblems(response.headers, overTls);
  }
  return found;
}

const none = (found: Record<string, string[]>) => Object.fromEntries(Object.keys(found).map((kind) => [kind, []]));

describe("security headers on the production server's answers", () => {
  it("every kind of answer carries them, and the statuses are the expected ones", async () => {
    const found = await problems(direct, false);
    expect(Object.keys(found)).toEqual([
      "signed webhook (202) → 202",
      "signed batch (202) → 202",
      "unsigned webhook (400) → 400",
      "undecodable path (400) → 400",
      "the fallback's answer (404) → 404",
    ]);
    expect(found).toEqual(none(found));
  });

  it("no HSTS for a client's own X-Forwarded-Proto: https when no proxy is trusted", async () => {
    const found = await problems(direct, false, { "x-forwarded-proto": "https" });
    expect(found).toEqual(none(found));
  });

  it("behind a trusted proxy: HSTS when it says https, none when it says http", async () => {
    const overTls = await problems(behindProxy, true, { "x-forwarded-proto": "https" });
    expect(overTls).toEqual(none(overTls));
    const plain = await problems(behindProxy, false, { "x-forwarded-proto": "http" });
    expect(plain).toEqual(none(plain));
  });

  it("an https listener's own TLS gets HSTS", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tidemark-tls-"));
    try {
      execFileSync(
        "openssl",
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`],
        {
          stdio: "ignore",
        },
      );
      const server = https.createServer(
        { key: readFileSync(`${dir}/key.pem`), cert: readFileSync(`${dir}/cert.pem`) },
        withSecurityHeaders((_request, response) => response.writeHead(204).end(), 0),
      );
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const headers = await new Promise<Headers>((resolve, reject) => {
        https
          .get({ host: "127.0.0.1", port: (server.address() as AddressInfo).port, path: "/", rejectUnauthorized: false }, (response) => {
            response.resume();
            resolve(new Headers(response.headers as Record<string, string>));
          })
          .on("error", reject);
      });
      server.close();
      expect(securityHeaderProblems(headers, true)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("control: the route handlers served without this layer fail the same check", async () => {
    const bare = await serveWebhooks();
    try {
      const found = await problems(bare, false);
      expect(Object.values(found).every((list) => list.length >= 4)).toBe(true);
    } finally {
      await bare.close();
    }
  });
});
