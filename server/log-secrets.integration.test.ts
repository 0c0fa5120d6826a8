/**
 * "No secret or token ever appears in a log line": the flows that handle
 * secrets run with every log line captured at level trace (test/log-capture.ts)
 * — tenant creation, secret rotation, a source set with a token and pulled
 * with it (once accepted, once refused), a user created with a password and
 * signing in (right and wrong), webhooks with good and bad signatures — and
 * every line is searched for every secret. A control shows the search finds
 * a secret logged under a field the redaction does not know.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { log } from "./log.ts";
import { createTenant, rotateSecret } from "./tenants/service.ts";
import { setSource } from "./collector/sources.ts";
import { Collector } from "./collector/collector.ts";
import { createUser } from "./auth/users.ts";
import { signIn } from "./auth/sign-in.ts";
import { startSimServer, type SimServer } from "./sim/upstream.ts";
import { captureLogs, type LogCapture } from "../test/log-capture.ts";
import { TEST_COLLECTOR, sourceRow } from "../test/collector.ts";
import { itemEvent, newEventId, serveFastPath, signedHeaders, uniqueSlug } from "../test/webhooks.ts";
import type { TestServer } from "../test/http.ts";
import { waitFor } from "../test/worker.ts";

const secrets: string[] = [];
/** A secret and the parts of it that would give it away (a whsec_ key's base64 alone is the key). */
function remember(secret: string): string {
  secrets.push(secret);
  if (secret.startsWith("whsec_")) secrets.push(secret.slice("whsec_".length));
  return secret;
}

function leaks(lines: readonly string[]): { secret: string; line: string }[] {
  return lines.flatMap((line) => secrets.filter((secret) => line.includes(secret)).map((secret) => ({ secret, line })));
}

let capture: LogCapture;
let sim: SimServer;
let server: TestServer;
beforeAll(async () => {
  capture = captureLogs();
  sim = await startSimServer({ token: remember(`tok_${randomBytes(12).toString("hex")}`) });
  server = await serveFastPath();
});
afterAll(async () => {
  capture.stop();
  await sim.close();
  await server.close();
});

describe("no secret in any log line", () => {
  it("while the flows that handle secrets run", async () => {
    // Tenant creation and rotation.
    const { tenant, secret } = await createTenant({ slug: uniqueSlug("sec"), ratePerSecond: 1_000, burst: 1_000 });
    remember(secret);
    const rotated = remember((await rotateSecret(tenant.slug)).secret);

    // Webhooks, signed right and wrong: the signature header is a secret's MAC.
    for (const key of [rotated, secret, `whsec_${randomBytes(32).toString("base64")}`]) {
      const id = newEventId();
      const body = JSON.stringify(itemEvent("item.created", { id: `i-${id}`, version: 1 }));
      const headers = signedHeaders(key, id, Math.floor(Date.now() / 1000), body);
      remember(headers["webhook-signature"] as string);
      const response = await fetch(`${server.url}/api/webhooks/${tenant.slug}`, { method: "POST", headers, body });
      expect([202, 401]).toContain(response.status);
    }

    // A source with the right token, pulled; one with a wrong token, refused and logged as a failure.
    const spec = { seed: 3, kind: "fixed", total: 30 } as const;
    await setSource(tenant, { url: sim.feedUrl(spec), token: secrets[0] as string, pageSize: 10, intervalMs: 100 });
    const other = (await createTenant({ slug: uniqueSlug("sec") })).tenant;
    await setSource(other, { url: sim.feedUrl(spec), token: remember(`tok_${randomBytes(12).toString("hex")}`), pageSize: 10, intervalMs: 100 });
    const collector = new Collector(TEST_COLLECTOR);
    collector.start();
    try {
      await waitFor(async () => (await sourceRow(tenant.id)).pages_committed >= 3 && (await sourceRow(other.id)).consecutive_failures >= 1, 30_000);
    } finally {
      await collector.stop();
    }

    // A user with a password; signing in right (a session token) and wrong.
    const email = `${uniqueSlug("u")}@example.test`;
    const password = remember(`pw-${randomBytes(9).toString("hex")}`);
    await createUser({ email, role: "viewer", password });
    remember((await signIn({ email, password }, "127.0.0.1")).token);
    await expect(signIn({ email, password: `${password}-wrong` }, "127.0.0.1")).rejects.toThrow();
    remember(`${password}-wrong`);

    // A secret handed to the logger under the fields the redaction covers.
    log.warn({ module: "test", secret, token: secrets[0], password, headers: { authorization: `Bearer ${secrets[0]}` } }, "redaction check");

    // The lines that could have carried a secret were written: the collector's start, the refused fetch, the redaction check.
    const messages = capture.lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(messages).toEqual(expect.arrayContaining(["collector started", "source fetch failed; backing off", "redaction check"]));
    expect(leaks(capture.lines)).toEqual([]);
    expect(capture.lines.some((line) => line.includes('"secret":"[redacted]"'))).toBe(true);
  });

  it("control: a secret logged under an unknown field is found by the search", () => {
    const before = capture.lines.length;
    log.warn({ module: "test", leaked: secrets[0] }, "a careless line");
    const found = leaks(capture.lines.slice(before));
    capture.lines.splice(before);
    expect(found.map((leak) => leak.secret)).toEqual([secrets[0]]);
  });
});
