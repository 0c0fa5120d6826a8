/**
 * The sweep: every entry point takes arbitrary strings and numbers from
 * outside and answers them with a deliberate 2xx or 4xx, never a 5xx, never
 * an unhandled rejection, and stores nothing when it refuses.
 *
 * - the webhook routes, single and batch, on both servers (WEBHOOK_SERVERS),
 *   signed so that the bodies reach validation, plus unsigned requests on
 *   arbitrary paths; the events stored are exactly the ones accepted, and
 *   every stored event then applies (whatever validates can be stored and
 *   applied);
 * - the auth routes (sign-in, sign-out, password change), with arbitrary
 *   bodies and cookies;
 * - every tRPC procedure of the router, as admin, viewer, anonymous and with
 *   a malformed cookie, by GET and POST, single and batched;
 * - the admin CLI's commands and flags (runCommand, in process): exit 0, 2, or
 *   1 with a deliberate error code, never "internal".
 *
 * Inputs mix plausible values (the real tenant, valid timestamps, URLs) with
 * the ones that used to get through: NUL, lone surrogates, the year 0000,
 * offsets past ±15:59, huge and fractional numbers, huge dates, bad
 * percent-encoding. Fixed seed; the case count is printed.
 */
import fc from "fast-check";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POST as passwordRoute } from "../app/api/auth/password/route.ts";
import { POST as signInRoute } from "../app/api/auth/sign-in/route.ts";
import { POST as signOutRoute } from "../app/api/auth/sign-out/route.ts";
import { GET as trpcGet, POST as trpcPost } from "../app/api/trpc/[trpc]/route.ts";
import { runCommand } from "../server/cli/tidemark.ts";
import { applyBatch } from "../server/core/apply.ts";
import { appRouter } from "../server/api/root.ts";
import { SESSION_COOKIE, createSession } from "../server/auth/session.ts";
import { createUser } from "../server/auth/users.ts";
import { pool, transaction } from "../server/db.ts";
import { createTenant } from "../server/tenants/service.ts";
import { route, serve, type TestServer } from "./http.ts";
import { WEBHOOK_SERVERS, postSigned } from "./webhooks.ts";

const SEED = 20261202;
let cases = 0;
/** Answers seen, per sweep: shows the inputs reached past the first checks (and are asserted to). */
const seen = new Map<string, Map<string, number>>();
function tally(sweep: string, answer: string | number): void {
  const counts = seen.get(sweep) ?? new Map<string, number>();
  counts.set(String(answer), (counts.get(String(answer)) ?? 0) + 1);
  seen.set(sweep, counts);
}
const count = (sweep: string, answer: string | number) => seen.get(sweep)?.get(String(answer)) ?? 0;

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
process.on("unhandledRejection", onUnhandled);

// --- arbitrary input -----------------------------------------------------------

const NASTY = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "x\udfff",
  "\udc00\ud800",
  "🐳",
  "\uffff",
  "user 42",
  "ünïcødé-🐳",
  "'; DROP TABLE x; --",
  "%",
  "%E0%A4%A",
  "%00",
  "%ED%A0%80",
  "0000-01-01T00:00:00Z",
  "2026-11-27T10:00:00+16:00",
  "2026-11-27T10:00:00-23:59",
  "9999-12-31T23:59:59-15:59",
  "2026-11-27T10:00:00Z",
  "x".repeat(256),
  "x".repeat(5_000),
  "__proto__",
  "constructor",
  "none",
  "1e400",
  "-0",
  "NaN",
  "http://",
  "http://127.0.0.1:9/events",
  "https://user:pw@example.test/",
  "admin",
  "viewer",
  "1m",
  "item.created",
  "item.deleted",
];

const loneSurrogateUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
const arbText = fc.oneof(
  { arbitrary: fc.constantFrom(...NASTY), weight: 3 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 12 }), weight: 1 },
  { arbitrary: fc.string({ unit: loneSurrogateUnit, maxLength: 6 }), weight: 1 },
  { arbitrary: fc.string({ maxLength: 12 }), weight: 1 },
);
const arbNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 1, 0.5, 2 ** 31, 2 ** 31 - 1, 2 ** 53, 2 ** 63, 1e308, -1e308, Number.MAX_SAFE_INTEGER, Number.NaN, Number.POSITIVE_INFINITY),
);
const arbLeaf = fc.oneof(arbText, arbNumber, fc.boolean(), fc.constant(null), fc.date({ noInvalidDate: false }));
const arbValue = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    arbLeaf,
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(arbText, tie("value"), { maxKeys: 3 }),
  ),
})).value;

/**
 * An object with `fields`, each mostly plausible (so requests get past the first check), now and then
 * arbitrary or absent, and sometimes an unknown key.
 */
function objectOf(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  const field = (arb: fc.Arbitrary<unknown>) =>
    fc.oneof({ arbitrary: arb, weight: 10 }, { arbitrary: arbValue, weight: 1 }, { arbitrary: fc.constant(undefined), weight: 2 });
  return fc
    .tuple(fc.record(Object.fromEntries(Object.entries(fields).map(([key, arb]) => [key, field(arb)]))), fc.dictionary(arbText, arbLeaf, { maxKeys: 1 }))
    .map(([known, extra]) => ({ ...extra, ...Object.fromEntries(Object.entries(known).filter(([, value]) => value !== undefined)) }));
}

// --- fixtures ------------------------------------------------------------------

let webhookTenant: { id: number; slug: string; secret: string };
let dashboardSlug = "";
let adminId = 0;
let viewerId = 0;

/** A digest of everything a refused request must leave alone (sessions and counters excepted). */
async function digest(): Promise<string> {
  const tables = ["tenants", "users", "memberships", "events", "sources", "items", "item_refs", "alert_rules", "alert_target"];
  const { rows } = await pool.query<{ d: string }>(
    `SELECT md5(${tables.map((table) => `coalesce((SELECT string_agg(x::text, '|' ORDER BY x::text) FROM ${table} x), '')`).join(" || '#' || ")}) AS d`,
  );
  return (rows[0] as { d: string }).d;
}

async function eventCount(tenantId: number): Promise<number> {
  const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE tenant_id = $1", [tenantId]);
  return (rows[0] as { n: number }).n;
}

beforeAll(async () => {
  const busy = { ratePerSecond: 1_000_000, burst: 10_000_000 };
  const created = await createTenant({ slug: "sweep-webhooks", ...busy });
  webhookTenant = { id: created.tenant.id, slug: created.tenant.slug, secret: created.secret };
  dashboardSlug = (await createTenant({ slug: "sweep-dashboard" })).tenant.slug;
  await createTenant({ slug: "sweep-cli" });
  adminId = (await createUser({ email: "sweep-admin@test.example", role: "admin", password: "correct horse battery" })).id;
  viewerId = (await createUser({ email: "sweep-viewer@test.example", role: "viewer", password: "correct horse battery", tenantSlugs: [dashboardSlug] })).id;
});

afterAll(() => {
  process.off("unhandledRejection", onUnhandled);
  const lines = [...seen].map(([sweep, counts]) => `  ${sweep}: ${[...counts].map(([answer, n]) => `${answer}×${n}`).join(" ")}`);
  process.stdout.write(`entry-point sweep: ${cases} cases (seed ${SEED}), none answered 5xx\n${lines.join("\n")}\n`);
});

/** Fails with what was sent when an answer is a 5xx. */
function expectNo5xx(status: number, sent: unknown, body: string): void {
  if (status >= 500) throw new Error(`answered ${status} to ${JSON.stringify(sent)?.slice(0, 500)}: ${body.slice(0, 300)}`);
}

// --- webhooks --------------------------------------------------------------------

const often = <T>(plausible: fc.Arbitrary<T>, other: fc.Arbitrary<unknown>) => fc.oneof({ arbitrary: plausible, weight: 9 }, { arbitrary: other, weight: 1 });
/** A record of `fields` plus, sometimes, an unknown key holding anything (which is dropped, never stored). */
const withExtra = (fields: Record<string, fc.Arbitrary<unknown>>) =>
  fc.tuple(fc.record(fields), fc.dictionary(arbText, arbLeaf, { maxKeys: 1 })).map(([known, extra]) => ({ ...extra, ...known }));
const arbTimestamp = often(fc.constantFrom("2026-11-27T10:00:00Z", "2026-11-27T10:00:00.123+02:00", "0001-01-01T00:00:00+15:59"), arbText);
const arbItemId = often(fc.constantFrom("item-1", "user 42", "ünïcødé-🐳", "'; DROP TABLE x; --", "\uffff", "🐳🐳"), arbText);
const arbData = withExtra({
  id: arbItemId,
  version: often(fc.integer({ min: 1, max: 5 }), arbNumber),
  name: often(fc.oneof(fc.string({ maxLength: 12 }), fc.constant(null)), arbText),
  category: often(fc.oneof(fc.string({ maxLength: 12 }), fc.constant(null)), arbText),
  value: often(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(null)), arbNumber),
  refs: fc.array(arbItemId, { maxLength: 3 }),
});
const arbEnvelope = withExtra({
  type: often(fc.constantFrom("item.created", "item.updated", "item.deleted"), arbText),
  timestamp: arbTimestamp,
  data: often(arbData, arbValue),
});
const HEADER_SAFE = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), minLength: 1, maxLength: 12 });
const arbEventId = often(
  fc.uuid().map((uuid) => `msg_${uuid}`),
  HEADER_SAFE,
) as fc.Arbitrary<string>;
const arbRawPath = fc.oneof(
  fc.constantFrom("%E0%A4%A", "%ED%A0%80", "%00", "%", "sweep-webhooks%2Fbatch", "..", "%2e%2e", "x".repeat(300)),
  arbText.map((text) => encodeURIComponent(text.replace(/[\ud800-\udfff]/g, "?"))),
);

describe.each(WEBHOOK_SERVERS.map((kind, index) => ({ ...kind, seed: SEED + index })))("webhooks on the $name", ({ name, start, seed }) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await start();
  });
  afterAll(() => server.close());

  it("answer any signed single event with 2xx or 4xx, storing exactly the accepted ones (150 runs)", async () => {
    await fc.assert(
      fc.asyncProperty(arbEventId, often(arbEnvelope, arbValue), async (id, envelope) => {
        cases++;
        const before = await eventCount(webhookTenant.id);
        const body = JSON.stringify(envelope) ?? "null";
        const response = await postSigned({ url: `${server.url}/api/webhooks/${webhookTenant.slug}`, secret: webhookTenant.secret, body, id });
        const text = await response.text();
        expectNo5xx(response.status, { id, envelope }, text);
        tally(`single event, ${name}`, response.status);
        expect(await eventCount(webhookTenant.id)).toBe(before + (response.status === 202 ? 1 : 0));
      }),
      { numRuns: 150, seed },
    );
    expect(count(`single event, ${name}`, 202)).toBeGreaterThan(10);
    expect(count(`single event, ${name}`, 422)).toBeGreaterThan(10);
  });

  it("answer any signed batch with 2xx or 4xx, storing exactly the events it says it accepted (100 runs)", async () => {
    const arbBatchEvent = often(
      fc.tuple(arbEventId, arbEnvelope).map(([id, envelope]) => ({ id, ...envelope })),
      arbValue,
    );
    await fc.assert(
      fc.asyncProperty(often(withExtra({ events: fc.array(arbBatchEvent, { minLength: 1, maxLength: 6 }) }), arbValue), async (batch) => {
        cases++;
        const before = await eventCount(webhookTenant.id);
        const response = await postSigned({
          url: `${server.url}/api/webhooks/${webhookTenant.slug}/batch`,
          secret: webhookTenant.secret,
          body: JSON.stringify(batch) ?? "null",
        });
        const text = await response.text();
        expectNo5xx(response.status, batch, text);
        const results = (JSON.parse(text) as { results?: { status: string }[] }).results ?? [];
        tally(`batch, ${name}`, response.status);
        for (const result of results) tally(`batch events, ${name}`, result.status);
        expect(await eventCount(webhookTenant.id)).toBe(before + results.filter((result) => result.status === "accepted").length);
      }),
      { numRuns: 100, seed },
    );
    expect(count(`batch events, ${name}`, "accepted")).toBeGreaterThan(10);
    expect(count(`batch events, ${name}`, "invalid")).toBeGreaterThan(10);
  });

  it("answer unsigned requests on any path, headers and body with 4xx and store nothing (100 runs)", async () => {
    await fc.assert(
      fc.asyncProperty(
        arbRawPath,
        fc.boolean(),
        fc.dictionary(fc.constantFrom("webhook-id", "webhook-timestamp", "webhook-signature", "svix-id", "content-type"), HEADER_SAFE),
        arbText,
        async (path, batch, headers, body) => {
          cases++;
          const before = await digest();
          const response = await fetch(`${server.url}/api/webhooks/${path}${batch ? "/batch" : ""}`, {
            method: "POST",
            headers: { "content-type": "application/json", ...headers },
            body,
          });
          const text = await response.text();
          expectNo5xx(response.status, { path, headers, body }, text);
          tally(`unsigned, ${name}`, response.status);
          expect(response.status).toBeGreaterThanOrEqual(400);
          expect(await digest()).toBe(before);
        },
      ),
      { numRuns: 100, seed },
    );
  });
});

describe("whatever the webhooks stored", () => {
  it("applies: no stored event is rejected and none fails to apply", async () => {
    const { rows } = await pool.query<{ id: number; tenant_id: number; event_id: string; payload: unknown }>(
      "SELECT id, tenant_id, event_id, payload FROM events WHERE tenant_id = $1 ORDER BY id",
      [webhookTenant.id],
    );
    expect(rows.length).toBeGreaterThan(20);
    const results = await transaction((tx) =>
      applyBatch(
        tx,
        rows.map((row) => ({ id: row.id, tenantId: row.tenant_id, eventId: row.event_id, payload: row.payload })),
      ),
    );
    expect(results.filter((result) => result.outcome === "rejected")).toEqual([]);
  });
});

// --- auth routes and tRPC ----------------------------------------------------------

const arbBadCookie = fc.oneof(
  { arbitrary: fc.constantFrom("%E0%A4%A", "%", "%00", "%ED%A0%80", "", "x".repeat(200)), weight: 3 },
  { arbitrary: HEADER_SAFE, weight: 1 },
);

async function cookieFor(kind: string, bad: string): Promise<string | undefined> {
  if (kind === "admin") return `${SESSION_COOKIE}=${encodeURIComponent((await createSession(adminId)).token)}`;
  if (kind === "viewer") return `${SESSION_COOKIE}=${encodeURIComponent((await createSession(viewerId)).token)}`;
  if (kind === "malformed") return `${SESSION_COOKIE}=${bad}`;
  return undefined;
}
const arbWho = fc.constantFrom("admin", "malformed", "viewer", "anonymous", "admin", "malformed", "viewer");

/** superjson's envelope, as the client sends it; superjson itself refuses keys like "constructor", which plain JSON then carries. */
function serialize(input: unknown): unknown {
  try {
    return superjson.serialize(input);
  } catch {
    return { json: input };
  }
}

describe("the auth routes and tRPC, over HTTP", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serve([
      route("POST", "/api/auth/sign-in", signInRoute as never),
      route("POST", "/api/auth/sign-out", signOutRoute as never),
      route("POST", "/api/auth/password", passwordRoute as never),
      route("GET", "/api/trpc/[trpc]", trpcGet as never),
      route("POST", "/api/trpc/[trpc]", trpcPost as never),
    ]);
  });
  afterAll(() => server.close());

  it("auth routes answer any body and cookie with 2xx or 4xx, and store nothing when they refuse (120 runs)", async () => {
    const arbForm = fc.oneof(
      objectOf({
        email: fc.oneof(fc.constantFrom("sweep-admin@test.example", "nobody@test.example"), arbText),
        password: fc.oneof(fc.constantFrom("correct horse battery", "wrong"), arbText),
        currentPassword: fc.constant("wrong"),
        newPassword: fc.constant("another long password"),
      }),
      arbValue,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("sign-in", "sign-out", "password"),
        arbWho,
        arbBadCookie,
        arbForm,
        fc.boolean(),
        arbText,
        async (path, who, bad, form, asJson, raw) => {
          cases++;
          const cookie = await cookieFor(who, bad);
          const before = await digest();
          const body = asJson ? (JSON.stringify(form) ?? "null") : raw;
          const response = await fetch(`${server.url}/api/auth/${path}`, {
            method: "POST",
            headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) },
            body,
          });
          const text = await response.text();
          expectNo5xx(response.status, { path, who, body }, text);
          tally(`auth ${path}`, response.status);
          if (response.status >= 400) expect(await digest()).toBe(before);
        },
      ),
      { numRuns: 120, seed: SEED },
    );
  });

  // Each procedure with the fields its input schemas name (z.object shapes), so its inputs aim at what it reads.
  const procedures = Object.entries(
    appRouter._def.procedures as unknown as Record<string, { _def: { type: "query" | "mutation"; inputs: { shape?: Record<string, unknown> }[] } }>,
  ).map(([path, procedure]) => ({
    path,
    type: procedure._def.type,
    fields: [...new Set(procedure._def.inputs.flatMap((input) => Object.keys(input.shape ?? {})))],
  }));
  const hourAgo = new Date(Date.now() - 3_600_000);
  const range = {
    from: fc.oneof(fc.constant(hourAgo), fc.date()),
    to: fc.oneof(fc.constant(new Date()), fc.date()),
    bucket: fc.constantFrom("1m", "5m", "1h", "1d"),
  };
  const INPUT_FIELDS: Record<string, fc.Arbitrary<unknown>> = {
    tenant: fc.constant("sweep-dashboard"),
    ...range,
    search: arbText,
    cursor: arbText,
    includeDeleted: fc.boolean(),
    limit: fc.integer({ min: 1, max: 200 }),
    itemId: arbText,
    afterId: fc.integer({ min: 0 }),
    eventIds: fc.array(arbText, { maxLength: 3 }),
    userId: fc.constantFrom(viewerId + 1_000, 2 ** 31, 0),
    tenants: fc.array(fc.constantFrom("sweep-dashboard", "sweep-cli"), { maxLength: 2 }),
    graceHours: fc.oneof(fc.integer({ min: 0, max: 720 }), arbNumber),
    quotas: objectOf({ ratePerSecond: arbNumber, burst: arbNumber, dailyQuota: arbNumber, weight: arbNumber, maxConcurrency: arbNumber }),
    source: objectOf({
      url: fc.constantFrom("http://127.0.0.1:9/events", "https://example.test/x"),
      token: arbText,
      intervalMs: arbNumber,
      pageSize: arbNumber,
      itemUrl: arbText,
    }),
    slug: arbText.map((text) => text.toLowerCase()),
    name: arbText,
    email: arbText.map((text) => `${text}@test.example`),
    role: fc.constantFrom("admin", "viewer"),
    password: arbText,
    tenantSlugs: fc.array(arbText, { maxLength: 2 }),
  };
  /** An input for `procedure`: its own fields, plausible or not, now and then a few others; or anything at all. */
  const inputFor = (procedure: (typeof procedures)[number]) =>
    often(
      fc
        .shuffledSubarray(Object.keys(INPUT_FIELDS), { maxLength: 2 })
        .chain((others) =>
          objectOf(
            Object.fromEntries([...procedure.fields, ...others].map((key) => [key, (INPUT_FIELDS[key] as fc.Arbitrary<unknown> | undefined) ?? arbValue])),
          ),
        ),
      arbValue,
    );
  const arbCall = fc.constantFrom(...procedures).chain((procedure) => fc.tuple(fc.constant(procedure), inputFor(procedure)));

  it(`every tRPC procedure (${procedures.length}) answers any input, user and cookie with 2xx or 4xx, and stores nothing when it refuses (400 runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbCall, { minLength: 1, maxLength: 3 }),
        arbWho,
        arbBadCookie,
        fc.oneof({ arbitrary: fc.constant(false), weight: 9 }, { arbitrary: fc.constant(true), weight: 1 }),
        async (calls, who, bad, byPost) => {
          cases++;
          const cookie = await cookieFor(who, bad);
          const batched = calls.length > 1;
          const inputs = Object.fromEntries(calls.map(([, input], i) => [i, serialize(input)]));
          const path = calls.map(([procedure]) => procedure.path).join(",");
          const anyMutation = calls.some(([procedure]) => procedure.type === "mutation");
          const post = anyMutation || byPost;
          const query = batched ? "?batch=1" : "";
          const serialized = batched ? JSON.stringify(inputs) : JSON.stringify(inputs[0]);
          const before = await digest();
          const response = await fetch(
            post
              ? `${server.url}/api/trpc/${path}${query}`
              : `${server.url}/api/trpc/${path}${query}${query ? "&" : "?"}input=${encodeURIComponent(serialized)}`,
            {
              method: post ? "POST" : "GET",
              headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) },
              ...(post ? { body: serialized } : {}),
            },
          );
          const text = await response.text();
          expectNo5xx(response.status, { path, inputs: calls.map(([, input]) => input), who }, text);
          tally("tRPC", response.status);
          // A batch's status is the worst of its calls' (207 when they differ): each call's own code is in its answer.
          for (const answer of [JSON.parse(text) as unknown].flat() as { error?: { json?: { data?: { httpStatus?: number } } } }[]) {
            expectNo5xx(answer.error?.json?.data?.httpStatus ?? 200, { path, inputs: calls.map(([, input]) => input), who }, text);
          }
          if (response.status >= 400 && !batched) expect(await digest()).toBe(before);
        },
      ),
      { numRuns: 400, seed: SEED },
    );
    expect(count("tRPC", 200)).toBeGreaterThan(20);
    expect(count("tRPC", 400)).toBeGreaterThan(20);
  });
});

// --- the admin CLI -----------------------------------------------------------------

const CLI_COMMANDS = [
  "tenant create",
  "tenant list",
  "tenant rotate-secret",
  "tenant rotate-secret",
  "tenant set-quotas",
  "items export",
  "backlog",
  "events dead",
  "events replay",
  "source set",
  "source status",
  "source pause",
  "source resume",
  "source remove",
  "alert target",
  "alert set",
  "alert list",
  "alert remove",
  "user create",
  "help",
  "no such-command",
];
const FLAG_VALUES: Record<string, fc.Arbitrary<string>> = {
  slug: often(fc.constantFrom("sweep-cli", "sweep-cli-new"), arbText) as fc.Arbitrary<string>,
  tenant: often(fc.constant("sweep-cli"), arbText) as fc.Arbitrary<string>,
  name: arbText,
  rate: arbNumber.map(String),
  burst: arbNumber.map(String),
  weight: arbNumber.map(String),
  "daily-quota": fc.oneof(fc.constant("none"), arbNumber.map(String)),
  "max-concurrency": arbNumber.map(String),
  "grace-hours": arbNumber.map(String),
  "event-id": arbText,
  url: fc.oneof(fc.constantFrom("http://127.0.0.1:9/events", "https://example.test/x"), arbText),
  token: arbText,
  "interval-ms": arbNumber.map(String),
  "page-size": arbNumber.map(String),
  "item-url": arbText,
  email: arbText.map((text) => `${text}@test.example`),
  role: fc.oneof(fc.constantFrom("admin", "viewer"), arbText),
  password: arbText,
  rule: fc.oneof(fc.constantFrom("dead", "refused-percent", "oldest-pending-ms"), arbText),
  above: arbNumber.map(String),
  "window-ms": arbNumber.map(String),
  "no-such-flag": arbText,
};
const arbFlag = fc.oneof(
  fc.constantFrom(...Object.keys(FLAG_VALUES)).chain((flag) => (FLAG_VALUES[flag] as fc.Arbitrary<string>).map((value) => [`--${flag}`, value])),
  fc.constant(["--include-deleted"]),
  arbText.map((text) => [text]),
);

/** Each command's required flags (always given, mostly plausible) and optional ones, so most runs get past the usage check. */
const OWN_FLAGS: Record<string, { required: string[]; optional: string[] }> = {
  "tenant create": { required: ["slug"], optional: ["name", "rate", "burst", "weight", "daily-quota", "max-concurrency"] },
  "tenant rotate-secret": { required: ["slug"], optional: ["grace-hours"] },
  "tenant set-quotas": { required: ["slug"], optional: ["rate", "burst", "weight", "daily-quota", "max-concurrency"] },
  "events replay": { required: ["tenant"], optional: ["event-id"] },
  "source set": { required: ["tenant", "url"], optional: ["token", "interval-ms", "page-size", "item-url"] },
  "user create": { required: ["email", "role"], optional: ["tenant", "password"] },
  "items export": { required: ["tenant"], optional: ["include-deleted"] },
  "alert target": { required: ["url"], optional: [] },
  "alert set": { required: ["tenant", "rule", "above"], optional: ["window-ms"] },
  "alert remove": { required: ["tenant", "rule"], optional: [] },
};
const flagWithValue = (flag: string) =>
  flag === "include-deleted" ? fc.constant<string[]>([`--${flag}`]) : (FLAG_VALUES[flag] as fc.Arbitrary<string>).map((value) => [`--${flag}`, value]);
const arbInvocation = fc.constantFrom(...CLI_COMMANDS).chain((command) => {
  const needsTenant = command.startsWith("source") || command.startsWith("events") || command.startsWith("alert") || command === "backlog";
  const own = OWN_FLAGS[command] ?? { required: needsTenant ? ["tenant"] : [], optional: [] };
  const extras =
    own.optional.length > 0
      ? fc.array(fc.oneof({ arbitrary: fc.constantFrom(...own.optional).chain(flagWithValue), weight: 20 }, { arbitrary: arbFlag, weight: 1 }), {
          maxLength: 4,
        })
      : fc.oneof({ arbitrary: fc.constant<string[][]>([]), weight: 5 }, { arbitrary: fc.array(arbFlag, { maxLength: 2 }), weight: 1 });
  return fc
    .tuple(fc.constant(command), fc.tuple(...own.required.map(flagWithValue)), extras)
    .map(([name, required, optional]) => [name, [...required, ...optional]] as const);
});

describe("the admin CLI", () => {
  it("exits 0, 2, or 1 with a deliberate error for any command and flags, and stores nothing when it refuses (600 runs)", async () => {
    await fc.assert(
      fc.asyncProperty(arbInvocation, async ([command, flags]) => {
        cases++;
        const argv = [...command.split(" "), ...flags.flat()];
        const before = await digest();
        const { code, error } = await runCommand(argv);
        tally("CLI exit", code === 1 ? `1:${error?.code}` : code);
        if (code === 1 && (error?.code === "internal" || error === undefined)) throw new Error(`internal error for ${JSON.stringify(argv)}: ${error?.message}`);
        if (code !== 0) expect(await digest()).toBe(before);
      }),
      { numRuns: 600, seed: SEED },
    );
    expect(count("CLI exit", 0)).toBeGreaterThan(5);
    expect(count("CLI exit", "1:validation_failed")).toBeGreaterThan(5);
  });
});

describe("the sweep", () => {
  it("met no unhandled rejection", () => {
    expect(unhandled).toEqual([]);
  });
});
