/**
 * The sign-in brakes over real HTTP, with the real database and Redis, behind
 * the production server's request path: node:http, the webhook fast path's
 * dispatch, then the client-address stamp that server/cli/serve.ts puts on
 * every request it hands to Next.js (server/http/client-address.ts), then the
 * auth route handlers. Clients connect from different loopback addresses
 * (127.0.0.x, all of which Linux routes to lo), so the socket address
 * differs between "attacker" and "owner" as it would on a network.
 *
 * e2e/security.spec.ts checks the same against the real `npm start` server.
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POST as passwordRoute } from "../../app/api/auth/password/route.ts";
import { POST as signInRoute } from "../../app/api/auth/sign-in/route.ts";
import { route, routeListener, listen, type TestServer } from "../../test/http.ts";
import { createWebhookServer } from "../http/fast-path.ts";
import { stampClientAddress } from "../http/client-address.ts";
import { metrics } from "../metrics.ts";
import { ACCOUNT_SLOWDOWN_MAX_MS, SIGN_IN_LIMITS } from "./sign-in.ts";
import { SECURE_SESSION_COOKIE, SESSION_COOKIE } from "./session.ts";
import { createUser } from "./users.ts";

const PASSWORD = "correct horse battery staple";
let counter = 0;

async function newUser(): Promise<string> {
  const email = `limits-${++counter}-${Date.now()}@test.example`;
  await createUser({ email, role: "viewer", password: PASSWORD });
  return email;
}

/** The production server's request path with `trustedHops` proxies believed (TRUST_PROXY). */
async function productionServer(trustedHops: number): Promise<TestServer> {
  const next = routeListener([route("POST", "/api/auth/sign-in", signInRoute as never), route("POST", "/api/auth/password", passwordRoute as never)]);
  return listen(
    createWebhookServer((request, response) => {
      stampClientAddress(request, trustedHops);
      next(request, response);
    }),
  );
}

interface Answer {
  status: number;
  setCookie: string;
  elapsedMs: number;
}

/** POSTs JSON from the loopback address `from` (127.0.0.x). */
function post(server: TestServer, path: string, from: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const started = performance.now();
  const url = new URL(path, server.url);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        localAddress: from,
        agent: false,
        headers: { "content-type": "application/json", ...headers },
      },
      (response) => {
        response.resume();
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, setCookie: String(response.headers["set-cookie"] ?? ""), elapsedMs: performance.now() - started }),
        );
      },
    );
    request.on("error", reject);
    request.end(payload);
  });
}

const signIn = (server: TestServer, from: string, email: string, password: string, headers: Record<string, string> = {}) =>
  post(server, "/api/auth/sign-in", from, { email, password }, headers);

/**
 * Sends `count` attempts at once and tallies their statuses. At once, because the limiter decides on arrival (before
 * argon2): sent one after another on a busy machine, the buckets would refill between them.
 */
async function statusesOf(count: number, attempt: (i: number) => Promise<Answer>): Promise<Record<number, number>> {
  const answers = await Promise.all(Array.from({ length: count }, (_, i) => attempt(i)));
  const tally: Record<number, number> = {};
  for (const { status } of answers) tally[status] = (tally[status] ?? 0) + 1;
  return tally;
}

async function counterValue(counter: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await counter.get()).values.reduce((sum, entry) => sum + entry.value, 0);
}

describe("sign-in limits with no trusted proxy (TRUST_PROXY unset)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await productionServer(0);
  });
  afterAll(() => server.close());

  it("a forged X-Forwarded-For does not change the address: one address is refused past its burst whatever it claims", async () => {
    const { burst } = SIGN_IN_LIMITS.perAddress;
    const statuses = await statusesOf(burst + 5, (i) =>
      signIn(server, "127.0.0.11", `spray-${i}-${counter}@test.example`, "guess", { "x-forwarded-for": `198.51.100.${i}, 203.0.113.${i}` }),
    );
    expect(statuses).toEqual({ 401: burst, 429: 5 });
    // Another address is its own bucket.
    expect((await signIn(server, "127.0.0.12", "someone@test.example", "guess")).status).toBe(401);
  });

  it("an attacker guessing one account from one address is refused there, and the owner still signs in from another address", async () => {
    const email = await newUser();
    const { burst } = SIGN_IN_LIMITS.perAccountAndAddress;
    expect(await statusesOf(burst + 5, (i) => signIn(server, "127.0.0.21", email, `guess ${i}`))).toEqual({ 401: burst, 429: 5 });
    // Even the right password is refused from the attacker's address…
    expect((await signIn(server, "127.0.0.21", email, PASSWORD)).status).toBe(429);
    // …but not from the owner's.
    const owner = await signIn(server, "127.0.0.22", email, PASSWORD);
    expect(owner.status).toBe(200);
    expect(owner.setCookie).toMatch(new RegExp(`^${SESSION_COOKIE}=`));
  });

  it("guesses at one account from many addresses are only slowed down, never refused", async () => {
    const email = await newUser();
    const { burst } = SIGN_IN_LIMITS.perAccount;
    const slowedBefore = await counterValue(metrics.signInSlowed);
    const answers = await Promise.all(Array.from({ length: burst + 2 }, (_, i) => signIn(server, `127.0.1.${i + 1}`, email, `guess ${i}`)));
    expect(answers.map((answer) => answer.status)).toEqual(Array(burst + 2).fill(401));
    expect((await counterValue(metrics.signInSlowed)) - slowedBefore).toBe(2);
    // The two slowed attempts waited (a lower bound only: a sleep cannot end early).
    const slowest = answers.map((answer) => answer.elapsedMs).sort((a, b) => b - a);
    expect(slowest[1]).toBeGreaterThanOrEqual(ACCOUNT_SLOWDOWN_MAX_MS - 50);
    const owner = await signIn(server, "127.0.2.1", email, PASSWORD);
    expect(owner.status).toBe(200);
  });

  it("a client's X-Forwarded-Proto is not believed: over plain HTTP the cookie is neither Secure nor __Host-", async () => {
    const email = await newUser();
    const answer = await signIn(server, "127.0.0.31", email, PASSWORD, { "x-forwarded-proto": "https" });
    expect(answer.status).toBe(200);
    expect(answer.setCookie).toMatch(new RegExp(`^${SESSION_COOKIE}=`));
    expect(answer.setCookie).not.toContain("Secure");
  });

  it("a stamp sent by a client is overwritten with its real address", async () => {
    const { burst } = SIGN_IN_LIMITS.perAddress;
    const statuses = await statusesOf(burst + 5, (i) =>
      signIn(server, "127.0.0.41", `stamp-${i}-${counter}@test.example`, "guess", { "x-tidemark-client-address": `192.0.2.${i}` }),
    );
    expect(statuses).toEqual({ 401: burst, 429: 5 });
  });
});

describe("sign-in limits behind one trusted proxy (TRUST_PROXY=1)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await productionServer(1);
  });
  afterAll(() => server.close());

  it("the address is the one the proxy appended to X-Forwarded-For; what the client put before it is ignored", async () => {
    const { burst } = SIGN_IN_LIMITS.perAddress;
    // The proxy (this socket) appended 198.51.100.77; the client forged the entries before it.
    const statuses = await statusesOf(burst + 5, (i) =>
      signIn(server, "127.0.0.51", `proxied-${i}-${counter}@test.example`, "guess", { "x-forwarded-for": `10.${i}.0.1, 198.51.100.77` }),
    );
    expect(statuses).toEqual({ 401: burst, 429: 5 });
    // Another client behind the same proxy (same socket address) is not refused.
    expect((await signIn(server, "127.0.0.51", "other@test.example", "guess", { "x-forwarded-for": "198.51.100.78" })).status).toBe(401);
  });

  it("behind a TLS-terminating proxy the cookie is Secure and named __Host-", async () => {
    const email = await newUser();
    const answer = await signIn(server, "127.0.0.61", email, PASSWORD, { "x-forwarded-for": "198.51.100.90", "x-forwarded-proto": "https" });
    expect(answer.status).toBe(200);
    expect(answer.setCookie).toMatch(new RegExp(`^${SECURE_SESSION_COOKIE}=`));
    expect(answer.setCookie).toContain("Secure");
    expect(answer.setCookie).toContain("HttpOnly");
    expect(answer.setCookie).toContain("SameSite=Lax");
    expect(answer.setCookie).toContain("Path=/");
    expect(answer.setCookie).not.toContain("Domain=");
  });
});
