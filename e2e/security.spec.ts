/**
 * Hardening, from outside, against the real production server (e2e/serve.ts:
 * the webhook fast path in front of Next.js, TRUST_PROXY unset), in Chromium
 * and over plain HTTP, with Next.js alone (`next start` on the same build and
 * database, no fast path) as a control:
 * - every answer carries the security headers (pages, a redirect, tRPC,
 *   webhooks, a path that does not decode, a static asset), and a client's
 *   own X-Forwarded-Proto gets no HSTS;
 * - a forged X-Forwarded-For does not get around the sign-in brake per
 *   address; the control, Next.js alone (which believes X-Forwarded-For with
 *   nothing in front to set it), lets the same attack through;
 * - forged forwarding headers and forged or malformed session cookies give a
 *   signed-out page, never a 5xx;
 * - hostile `next=` values, signed in through the real form and judged by
 *   Chromium's own URL parsing, never leave the origin; the control shows
 *   Chromium sends the raw values and the old prefix check elsewhere.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { Browser } from "@playwright/test";
import { safeNextPath } from "../components/auth/safe-next.ts";
import { freePort } from "../server/chaos/processes.ts";
import { NEXT_BIN, PROJECT_ROOT } from "../server/setup/paths.ts";
import { ESCAPES } from "../test/safe-next-candidates.ts";
import { securityHeaderProblems } from "../test/security-headers.ts";
import { e2eDatabaseUrl } from "./environment.ts";
import { expect, signIn, signedHeaders, test, tidemark } from "./fixtures.ts";

let nextAlone: { url: string; child: ChildProcess; output: string[] } | null = null;

test.beforeAll(async () => {
  // The build e2e/serve.ts made, served by Next.js alone on the same database; no worker or collector of its own.
  const port = await freePort(null, new Set());
  const child = spawn(process.execPath, [NEXT_BIN, "start", "-p", String(port), "-H", "127.0.0.1"], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      NODE_ENV: "production",
      DATABASE_URL: e2eDatabaseUrl(),
      WORKER_CONCURRENCY: "0",
      COLLECTOR_CONCURRENCY: "0",
      LOG_LEVEL: "warn",
      NEXT_TELEMETRY_DISABLED: "1",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => output.push(chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => output.push(chunk));
  nextAlone = { url: `http://127.0.0.1:${port}`, child, output };
  await expect(async () => {
    if (child.exitCode !== null) throw new Error(`next start exited with ${child.exitCode}: ${output.join("")}`);
    expect((await fetch(`${nextAlone?.url}/api/health`)).status).toBe(200);
  }).toPass({ timeout: 60_000, intervals: [250] });
});

test.afterAll(async () => {
  const child = nextAlone?.child;
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
});

function alone(): string {
  if (!nextAlone) throw new Error("next start did not start");
  return nextAlone.url;
}

/** Fresh viewers (no tenant), so the sign-ins here use no other test's account brake. */
async function newUsers(count: number): Promise<{ email: string; password: string }[]> {
  const password = "hostile-next-password-1";
  return Promise.all(
    Array.from({ length: count }, async () => {
      const email = `next-${randomBytes(4).toString("hex")}@e2e.test`;
      await tidemark("user", "create", "--email", email, "--role", "viewer", "--password", password);
      return { email, password };
    }),
  );
}

/** One answer of each kind a server gives (a page, a redirect, tRPC, webhooks, a bad path, an asset): status and header problems. */
async function headerProblems(base: string, tenant: { slug: string; secret: string }, overTls: boolean, headers: Record<string, string> = {}) {
  const body = JSON.stringify({
    type: "item.created",
    timestamp: new Date().toISOString(),
    data: { id: `item-${randomBytes(3).toString("hex")}`, version: 1 },
  });
  const webhook = `${base}/api/webhooks/${tenant.slug}`;
  const answers: Record<string, Response> = {
    page: await fetch(`${base}/sign-in`, { headers }),
    "redirect to sign-in": await fetch(`${base}/`, { headers, redirect: "manual" }),
    "tRPC call": await fetch(`${base}/api/trpc/auth.me`, { headers }),
    "signed webhook": await fetch(webhook, { method: "POST", headers: { ...signedHeaders(tenant.secret, body), ...headers }, body }),
    "unsigned webhook": await fetch(webhook, { method: "POST", headers: { "content-type": "application/json", ...headers }, body }),
    "undecodable path": await fetch(`${base}/tenants/%E0%A4%A`, { headers }),
    "static asset": await fetch(`${base}/icon.svg`, { headers }),
  };
  const found: Record<string, { status: number; problems: string[] }> = {};
  for (const [kind, response] of Object.entries(answers)) {
    await response.arrayBuffer();
    found[kind] = { status: response.status, problems: securityHeaderProblems(response.headers, overTls) };
  }
  return found;
}

const EXPECTED_STATUSES = {
  page: 200,
  "redirect to sign-in": 307,
  "tRPC call": 200,
  "signed webhook": 202,
  "unsigned webhook": 400,
  "undecodable path": 400,
  "static asset": 200,
};
const expectAllClean = (found: Record<string, { status: number; problems: string[] }>) =>
  expect(found).toEqual(Object.fromEntries(Object.entries(EXPECTED_STATUSES).map(([kind, status]) => [kind, { status, problems: [] }])));

test.describe("security headers", () => {
  test("the production server: every answer carries them; a client's own X-Forwarded-Proto gets no HSTS", async ({ baseURL, tenant }) => {
    expectAllClean(await headerProblems(String(baseURL), tenant, false));
    expectAllClean(await headerProblems(String(baseURL), tenant, false, { "x-forwarded-proto": "https" }));
  });

  test("Chromium runs the dashboard under the CSP without a violation, and will not frame it", async ({ page, baseURL }) => {
    const violations: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    const [user] = await newUsers(1);
    await signIn(page, user!.email, user!.password);
    await page.goto("/account");
    await expect(page.getByRole("heading", { name: "Account", level: 1 })).toBeVisible();
    expect(violations).toEqual([]);
    // Any page that frames the app (frame-ancestors 'none' refuses its own origin too) gets an empty frame.
    await page.setContent(`<iframe id="framed" onload="window.framed = true" src="${String(baseURL)}/sign-in"></iframe>`);
    await page.waitForFunction(() => (window as { framed?: boolean }).framed === true);
    await expect(page.frameLocator("#framed").getByRole("button", { name: "Sign in" })).toHaveCount(0);
    expect(violations.some((text) => text.includes("frame-ancestors"))).toBe(true);
  });
});

/** A sign-in attempt over node:http from `localAddress` (a loopback address of its own, so its brake is its own). */
function signInFrom(base: string, localAddress: string, headers: Record<string, string>, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${base}/api/auth/sign-in`,
      { method: "POST", localAddress, headers: { "content-type": "application/json", ...headers } },
      (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode ?? 0));
      },
    );
    request.on("error", reject);
    request.end(JSON.stringify(body));
  });
}

/** Wrong passwords for ever new accounts, each claiming another address: what the per-address brake must stop. */
async function forgedAttack(base: string, localAddress: string, attempts: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let n = 0; n < attempts; n++) {
    const forged = `203.0.113.${n + 1}`;
    const headers = { "x-forwarded-for": forged, "x-real-ip": forged, forwarded: `for=${forged}`, "x-tidemark-client-address": forged };
    statuses.push(await signInFrom(base, localAddress, headers, { email: `nobody-${randomBytes(4).toString("hex")}@e2e.test`, password: "guess" }));
  }
  return statuses;
}

test.describe("forged forwarding headers", () => {
  /** More than the per-address burst (20, server/auth/sign-in.ts); a spec cannot import it without a database. */
  const attempts = 30;

  test(`a forged X-Forwarded-For does not get around the per-address brake: ${attempts} attempts claiming ${attempts} addresses are refused past the burst; the owner still signs in`, async ({
    baseURL,
    page,
  }) => {
    const statuses = await forgedAttack(String(baseURL), "127.0.0.9", attempts);
    console.log(`forged X-Forwarded-For, production server: ${statuses.join(",")}`);
    const firstRefusal = statuses.indexOf(429);
    expect(firstRefusal).toBeGreaterThan(0);
    expect(statuses.slice(0, firstRefusal).every((status) => status === 401)).toBe(true);
    expect(statuses.slice(firstRefusal).every((status) => status === 429)).toBe(true);
    // The brake is the attacker's address's: a user signing in from 127.0.0.1 is not refused.
    const [owner] = await newUsers(1);
    await signIn(page, owner!.email, owner!.password);
  });

  test("control: Next.js alone believes X-Forwarded-For, and the same attack is never refused", async () => {
    const statuses = await forgedAttack(alone(), "127.0.0.10", attempts);
    console.log(`forged X-Forwarded-For, Next.js alone: ${statuses.join(",")}`);
    expect(statuses.every((status) => status === 401)).toBe(true);
  });

  test("forged headers and forged or malformed session cookies: a signed-out page, never a 5xx", async ({ baseURL, browser }) => {
    const forgedHeaders = {
      "x-forwarded-for": "garbage, ,::::, 999.1.1.1",
      "x-forwarded-proto": "https, javascript",
      "x-forwarded-host": "evil.example:99999",
      "x-forwarded-port": "-1",
      forwarded: "for=evil;proto=https",
      "x-tidemark-client-address": "not an address",
      "x-request-id": "x".repeat(300),
    };
    const cookies = [
      `tidemark_session=${randomBytes(32).toString("base64url")}`,
      "tidemark_session=%E0%A4%A",
      "tidemark_session=%",
      `tidemark_session=${"A".repeat(4_000)}`,
      "tidemark_session=a; tidemark_session=b",
      `__Host-tidemark_session=${randomBytes(32).toString("base64url")}`,
      "tidemark_session",
    ];
    for (const cookie of cookies) {
      const home = await fetch(`${String(baseURL)}/`, { headers: { ...forgedHeaders, cookie }, redirect: "manual" });
      expect(home.status, cookie).toBe(307);
      expect(home.headers.get("location"), cookie).toMatch(/^\/sign-in/);
      const me = await fetch(`${String(baseURL)}/api/trpc/auth.me`, { headers: { ...forgedHeaders, cookie } });
      expect(me.status, cookie).toBe(200);
      expect(((await me.json()) as { result: { data: { json: unknown } } }).result.data.json, cookie).toBeNull();
    }
    // In Chromium: the same headers on every request, a forged cookie; the dashboard sends it to the sign-in form.
    const context = await browser.newContext({ extraHTTPHeaders: forgedHeaders });
    await context.addCookies([{ name: "tidemark_session", value: randomBytes(32).toString("base64url"), url: String(baseURL) }]);
    const page = await context.newPage();
    const statuses: number[] = [];
    page.on("response", (response) => statuses.push(response.status()));
    await page.goto("/tenants/anything");
    await expect(page).toHaveURL(/\/sign-in/);
    await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
    expect(statuses.filter((status) => status >= 500)).toEqual([]);
    await context.close();
  });
});

/** The hostile `next=` values: the and every known trick of test/safe-next-candidates.ts. */
const HOSTILE_NEXT = [
  "/%09/evil.example",
  "/\\evil.example",
  "//evil.example",
  "/\t/evil.example",
  "https://evil.example",
  "javascript:alert(document.domain)",
  "/%2F%2Fevil.example",
  "/%5C%5Cevil.example",
  "\\\\evil.example",
  "/.//evil.example",
  "//evil.example%2f@app",
  ...ESCAPES,
].filter((value, index, all) => all.indexOf(value) === index);

/** Sign-ins through the form, each from a fresh browser; spread over accounts so no account's brake is reached. */
const FORM_SIGN_INS = HOSTILE_NEXT.slice(0, 11);

async function signInWithNext(browser: Browser, origin: string, user: { email: string; password: string }, next: string): Promise<string> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${origin}/sign-in?next=${encodeURIComponent(next)}`);
    await page.getByLabel("Email").fill(user.email);
    await page.getByLabel("Password").fill(user.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname !== "/sign-in", { timeout: 15_000 }).catch(() => undefined);
    await page.waitForLoadState("load");
    // Whatever the page's URL was parsed to, it must not be another origin (a chrome-error page for an unreachable host included).
    return page.url();
  } finally {
    await context.close();
  }
}

test.describe("safeNextPath, judged by Chromium", () => {
  // A fresh browser, a form and an argon2 check per value.
  test.describe.configure({ timeout: 240_000 });

  test(`${FORM_SIGN_INS.length} hostile next= values signed in through the real form end on the app's own origin`, async ({ browser, baseURL }) => {
    // IPv6 loopback: the sign-ins' address brake is [::1]'s, not the one the other tests use.
    const origin = `http://[::1]:${new URL(String(baseURL)).port}`;
    const users = await newUsers(3);
    for (const [index, next] of FORM_SIGN_INS.entries()) {
      const landed = await signInWithNext(browser, origin, users[index % users.length]!, next);
      console.log(`next=${JSON.stringify(next)} → safeNextPath ${JSON.stringify(safeNextPath(next))} → landed on ${landed}`);
      expect(new URL(landed).origin, `${JSON.stringify(next)} landed on ${landed}`).toBe(origin);
      expect(new URL(landed).pathname, JSON.stringify(next)).not.toBe("/sign-in");
    }
  });

  test(`${HOSTILE_NEXT.length} hostile next= values: the sign-in page's redirect and Chromium's URL parsing of safeNextPath's result stay home`, async ({
    page,
    baseURL,
  }) => {
    const origin = new URL(String(baseURL)).origin;
    const [user] = await newUsers(1);
    await signIn(page, user!.email, user!.password);
    const judged = await page.evaluate((paths) => paths.map((target) => new URL(target, location.href).origin), HOSTILE_NEXT.map(safeNextPath));
    expect(judged.filter((resolved) => resolved !== origin)).toEqual([]);
    // Signed in, the sign-in page redirects to next at once (server-side): where Chromium ends up is the verdict.
    for (const next of HOSTILE_NEXT) {
      await page.goto(`/sign-in?next=${encodeURIComponent(next)}`).catch(() => undefined);
      expect(new URL(page.url()).origin, `${JSON.stringify(next)} landed on ${page.url()}`).toBe(origin);
    }
  });

  test("control: Chromium reads the raw values, and the old prefix check's results, as other origins", async ({ page }) => {
    await page.goto("/sign-in");
    const prefixCheck = (value: string) => (!value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\") ? "/" : value);
    const origins = await page.evaluate(
      ({ raw, prefixed }) => ({
        raw: raw.map((target) => new URL(target, location.href).origin),
        prefixed: prefixed.map((target) => new URL(target, location.href).origin),
      }),
      { raw: HOSTILE_NEXT, prefixed: HOSTILE_NEXT.map(prefixCheck) },
    );
    const home = new URL(page.url()).origin;
    const rawAway = origins.raw.filter((origin) => origin !== home).length;
    const prefixedAway = origins.prefixed.filter((origin) => origin !== home).length;
    console.log(`hostile next= values read as another origin by Chromium: raw ${rawAway}/${HOSTILE_NEXT.length}, old prefix check ${prefixedAway}`);
    expect(rawAway).toBeGreaterThan(HOSTILE_NEXT.length / 2);
    expect(prefixedAway).toBeGreaterThan(0);
  });
});
