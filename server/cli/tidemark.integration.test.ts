/**
 * The admin CLI as an admin runs it: a child process on this file's own
 * database (test/setup-integration.ts put its URL in the environment), judged
 * by its exit status and the JSON lines it prints. Fixtures that the CLI
 * cannot make (items, events in every state) are inserted with SQL.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { sign, verifySignature } from "../ingest/signature.ts";
import { findIngestTenant, liveKeys } from "../ingest/tenant-lookup.ts";
import { secretKeyring } from "../secrets/keyring.ts";
import { open } from "../secrets/secret-box.ts";
import { exportItems } from "../items/export.ts";
import { createTenant } from "../tenants/service.ts";
import { cliError, runTidemark } from "../../test/cli.ts";
import { leaseInTest } from "../../test/events.ts";

const tidemark = (...args: string[]) => runTidemark({}, ...args);

const slug = () => `cli-${randomBytes(4).toString("hex")}`;

async function tenantFixture(): Promise<{ id: number; slug: string }> {
  const { tenant } = await createTenant({ slug: slug() });
  return tenant;
}

/** Items `<prefix>00000`…, every `deletedEvery`-th one a tombstone (0: none). */
async function insertItems(tenantId: number, count: number, options: { prefix?: string; deletedEvery?: number } = {}): Promise<void> {
  await pool.query(
    `INSERT INTO items (tenant_id, item_id, version, type_rank, event_id, content_hash, deleted, name, category, value)
     SELECT $1, $2 || lpad(g::text, 5, '0'), g, 1, 'evt-' || g, '\\x00', $3 > 0 AND g % $3 = 0,
            'Item ' || g, 'cat-' || (g % 3), g * 0.5
       FROM generate_series(1, $4::int) AS g`,
    [tenantId, options.prefix ?? "item-", options.deletedEvery ?? 0, count],
  );
}

async function insertEvents(tenantId: number, status: "pending" | "processing" | "done" | "dead", count: number, ageSeconds = 0): Promise<void> {
  await pool.query(
    `INSERT INTO events (tenant_id, event_id, type, item_id, version, payload, payload_hash, source_timestamp, received_at,
                         status, outcome)
     SELECT $1, $2 || '-' || g, 'item.created', 'item-' || g, 1, '{}', '\\x00', now(), now() - make_interval(secs => $4),
            CASE $2 WHEN 'processing' THEN 'pending' ELSE $2 END, CASE $2 WHEN 'done' THEN 'applied' WHEN 'dead' THEN 'dead' END
       FROM generate_series(1, $3::int) AS g`,
    [tenantId, status, count, ageSeconds],
  );
  // In flight: pending in the inbox, and listed by a claim.
  if (status === "processing") await leaseInTest(tenantId, "processing-");
}

describe("tidemark tenant", () => {
  it("create prints the slug and a whsec_ secret, and list shows the tenant without any secret", async () => {
    const name = slug();
    const created = await tidemark("tenant", "create", "--slug", name, "--rate", "5", "--burst", "10", "--weight", "3");
    expect(created.code).toBe(0);
    expect(created.lines).toHaveLength(1);
    expect(created.lines[0]).toMatchObject({ slug: name, ratePerSecond: 5, burst: 10, weight: 3 });
    expect(created.lines[0]?.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);

    const listed = await tidemark("tenant", "list");
    expect(listed.code).toBe(0);
    const line = listed.lines.find((tenant) => tenant.slug === name);
    expect(line).toMatchObject({ slug: name, ratePerSecond: 5, burst: 10, weight: 3 });
    expect(listed.stdout).not.toContain("whsec_");
    expect(Object.keys(line ?? {}).some((key) => /secret$/i.test(key))).toBe(false);
  });

  it("create with a slug that is taken exits 1 with a conflict", async () => {
    const { slug: taken } = await tenantFixture();
    const result = await tidemark("tenant", "create", "--slug", taken);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(cliError(result).code).toBe("conflict");
  });

  it("rotate-secret issues a new secret while the old one keeps verifying for the grace period", async () => {
    const { tenant, secret: oldSecret } = await createTenant({ slug: slug() });
    const before = Date.now();
    const result = await tidemark("tenant", "rotate-secret", "--slug", tenant.slug, "--grace-hours", "2");
    expect(result.code).toBe(0);
    const [line] = result.lines;
    expect(line?.slug).toBe(tenant.slug);
    expect(line?.secret).toMatch(/^whsec_/);
    expect(line?.secret).not.toBe(oldSecret);
    const validUntil = Date.parse(String(line?.previousValidUntil));
    expect(validUntil).toBeGreaterThanOrEqual(before + 2 * 3_600_000);
    expect(validUntil).toBeLessThanOrEqual(Date.now() + 2 * 3_600_000);

    const { rows } = await pool.query("SELECT secret, previous_secret, previous_secret_expires_at FROM tenants WHERE id = $1", [tenant.id]);
    const row = rows[0] as { secret: string; previous_secret: string; previous_secret_expires_at: Date };
    // Stored sealed: the row holds neither secret, and opens to both.
    expect(`${row.secret} ${row.previous_secret}`).not.toContain(String(line?.secret).slice("whsec_".length));
    expect(`${row.secret} ${row.previous_secret}`).not.toContain(oldSecret.slice("whsec_".length));
    expect(open(secretKeyring(), "webhook-secret", row.secret)).toBe(line?.secret);
    expect(open(secretKeyring(), "webhook-secret", row.previous_secret)).toBe(oldSecret);
    expect(row.previous_secret_expires_at.getTime()).toBe(validUntil);

    // A sender still on the old secret is accepted by the same check the webhook runs.
    const ingest = await findIngestTenant(tenant.slug);
    if (!ingest) throw new Error("the tenant is not found");
    const secrets = liveKeys(ingest, new Date());
    const now = Math.floor(Date.now() / 1000);
    const body = Buffer.from('{"hello":"world"}');
    const request = { id: "msg_rotation", timestamp: String(now), body };
    expect(() => verifySignature({ ...request, signatureHeader: sign(oldSecret, request.id, now, body) }, secrets, now)).not.toThrow();
    expect(() => verifySignature({ ...request, signatureHeader: sign(String(line?.secret), request.id, now, body) }, secrets, now)).not.toThrow();
  });

  it("rotate-secret takes the dashboard's grace bound: 720 hours, and 721 is refused without rotating", async () => {
    const { tenant, secret } = await createTenant({ slug: slug() });
    const refused = await tidemark("tenant", "rotate-secret", "--slug", tenant.slug, "--grace-hours", "721");
    expect(refused.code).toBe(1);
    expect(cliError(refused)).toEqual({ code: "validation_failed", message: '--grace-hours: must be at most 720 (30 days) (got "721")' });
    const stored = (await pool.query<{ secret: string }>("SELECT secret FROM tenants WHERE id = $1", [tenant.id])).rows[0]?.secret ?? "";
    expect(open(secretKeyring(), "webhook-secret", stored)).toBe(secret);

    const accepted = await tidemark("tenant", "rotate-secret", "--slug", tenant.slug, "--grace-hours", "720");
    expect(accepted.code).toBe(0);
    expect(Date.parse(String(accepted.lines[0]?.previousValidUntil))).toBeGreaterThan(Date.now() + 719 * 3_600_000);
  });

  it("set-quotas changes only the quotas given, and --daily-quota none lifts the daily quota", async () => {
    const { tenant } = await createTenant({ slug: slug(), dailyQuota: 1_000, burst: 50 });
    const result = await tidemark("tenant", "set-quotas", "--slug", tenant.slug, "--rate", "2.5", "--daily-quota", "none");
    expect(result.code).toBe(0);
    expect(result.lines).toEqual([expect.objectContaining({ slug: tenant.slug, ratePerSecond: 2.5, dailyQuota: null, burst: 50 })]);
    const { rows } = await pool.query("SELECT rate_per_second, daily_quota, burst FROM tenants WHERE id = $1", [tenant.id]);
    expect(rows).toEqual([{ rate_per_second: 2.5, daily_quota: null, burst: 50 }]);
  });
});

describe("tidemark items export", () => {
  it("prints live items by id with sorted refs, and tombstones only with --include-deleted", async () => {
    const tenant = await tenantFixture();
    const other = await tenantFixture();
    await insertItems(tenant.id, 6, { deletedEvery: 3 });
    await insertItems(other.id, 2);
    await pool.query(
      "INSERT INTO item_refs (tenant_id, item_id, ref_id) VALUES ($1, 'item-00001', 'zeta'), ($1, 'item-00001', 'alpha'), ($1, 'item-00001', 'mu')",
      [tenant.id],
    );

    const live = await tidemark("items", "export", "--tenant", tenant.slug);
    expect(live.code).toBe(0);
    expect(live.lines.map((item) => item.id)).toEqual(["item-00001", "item-00002", "item-00004", "item-00005"]);
    expect(live.lines[0]).toEqual({
      id: "item-00001",
      version: 1,
      deleted: false,
      name: "Item 1",
      category: "cat-1",
      value: 0.5,
      refs: ["alpha", "mu", "zeta"],
    });
    expect(live.lines[1]?.refs).toEqual([]);

    const all = await tidemark("items", "export", "--tenant", tenant.slug, "--include-deleted");
    expect(all.code).toBe(0);
    expect(all.lines.map((item) => item.id)).toEqual(["item-00001", "item-00002", "item-00003", "item-00004", "item-00005", "item-00006"]);
    expect(all.lines.filter((item) => item.deleted).map((item) => item.id)).toEqual(["item-00003", "item-00006"]);
  });

  it("streams every item exactly once, in order, across several pages", async () => {
    const tenant = await tenantFixture();
    await insertItems(tenant.id, 2_500);
    const result = await tidemark("items", "export", "--tenant", tenant.slug);
    expect(result.code).toBe(0);
    const ids = result.lines.map((item) => String(item.id));
    expect(ids).toHaveLength(2_500);
    expect(new Set(ids).size).toBe(2_500);
    expect(ids).toEqual([...ids].sort());
    expect(ids[0]).toBe("item-00001");
    expect(ids.at(-1)).toBe("item-02500");
  });

  it("a page that ends exactly on the last item ends the export without a gap or a repeat", async () => {
    const tenant = await tenantFixture();
    await insertItems(tenant.id, 15, { deletedEvery: 3 });
    const exported: string[] = [];
    for await (const item of exportItems(tenant.id, { pageSize: 5 })) exported.push(item.id);
    const expected = Array.from({ length: 15 }, (_, i) => i + 1)
      .filter((n) => n % 3 !== 0)
      .map((n) => `item-${String(n).padStart(5, "0")}`);
    expect(exported).toEqual(expected);
  });

  it("an unknown tenant exits 1 with not_found and prints nothing on stdout", async () => {
    const result = await tidemark("items", "export", "--tenant", "no-such-tenant");
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(cliError(result)).toEqual({ code: "not_found", message: 'no tenant with slug "no-such-tenant"' });
  });
});

describe("tidemark backlog", () => {
  it("counts the tenant's pending, processing and dead events and the oldest pending event's age", async () => {
    const tenant = await tenantFixture();
    const other = await tenantFixture();
    await insertEvents(tenant.id, "pending", 3, 90);
    await insertEvents(tenant.id, "processing", 2);
    await insertEvents(tenant.id, "done", 5);
    await insertEvents(tenant.id, "dead", 1);
    await insertEvents(other.id, "pending", 4, 600);

    const result = await tidemark("backlog", "--tenant", tenant.slug);
    expect(result.code).toBe(0);
    expect(result.lines).toEqual([{ pending: 3, processing: 2, dead: 1, oldestPendingAgeMs: expect.any(Number) }]);
    const age = result.lines[0]?.oldestPendingAgeMs as number;
    expect(age).toBeGreaterThanOrEqual(90_000);
    expect(age).toBeLessThan(90_000 + 60_000);
  });

  it("reports a null age when nothing is pending", async () => {
    const tenant = await tenantFixture();
    await insertEvents(tenant.id, "done", 2);
    const result = await tidemark("backlog", "--tenant", tenant.slug);
    expect(result.code).toBe(0);
    expect(result.lines).toEqual([{ pending: 0, processing: 0, dead: 0, oldestPendingAgeMs: null }]);
  });
});

describe("tidemark events", () => {
  it("lists dead events with their error, and replays them back to the queue", async () => {
    const tenant = await tenantFixture();
    await pool.query(
      `INSERT INTO events (tenant_id, event_id, type, item_id, version, payload, payload_hash, source_timestamp,
                           status, outcome, attempts, last_error, processed_at)
       SELECT $1, 'dead-' || g, 'item.created', 'x', 1, '{}', '\\x00', now(), 'dead', 'dead', 5, 'boom ' || g, now()
         FROM generate_series(1, 3) AS g`,
      [tenant.id],
    );
    const listed = await tidemark("events", "dead", "--tenant", tenant.slug);
    expect(listed.code).toBe(0);
    expect(listed.lines.map((line) => [line.eventId, line.lastError, line.attempts])).toEqual([
      ["dead-1", "boom 1", 5],
      ["dead-2", "boom 2", 5],
      ["dead-3", "boom 3", 5],
    ]);

    const one = await tidemark("events", "replay", "--tenant", tenant.slug, "--event-id", "dead-2");
    expect(one.lines).toEqual([{ tenant: tenant.slug, replayed: 1 }]);
    const rest = await tidemark("events", "replay", "--tenant", tenant.slug);
    expect(rest.lines).toEqual([{ tenant: tenant.slug, replayed: 2 }]);
    const { rows } = await pool.query("SELECT status, attempts FROM events WHERE tenant_id = $1 ORDER BY event_id", [tenant.id]);
    expect(rows).toEqual([
      { status: "pending", attempts: 0 },
      { status: "pending", attempts: 0 },
      { status: "pending", attempts: 0 },
    ]);
  });
});

describe("tidemark source", () => {
  it("set prints the source without its token; status, pause, resume and remove; a second set keeps what it does not name", async () => {
    const { slug: name } = await tenantFixture();
    const url = "http://127.0.0.1:9/api/sim/demo/events";
    const set = await tidemark(
      "source",
      "set",
      "--tenant",
      name,
      "--url",
      url,
      "--token",
      "tok-abc_123",
      "--interval-ms",
      "2500",
      "--page-size",
      "40",
      "--item-url",
      "http://127.0.0.1:9/items",
    );
    expect(set.code).toBe(0);
    expect(set.lines).toHaveLength(1);
    expect(set.lines[0]).toMatchObject({
      tenant: name,
      url,
      cursor: null,
      paused: false,
      intervalMs: 2500,
      pageSize: 40,
      itemUrl: "http://127.0.0.1:9/items",
      hasToken: true,
    });
    expect(set.stdout).not.toContain("tok-abc_123");
    expect(set.stderr).not.toContain("tok-abc_123");

    const status = await tidemark("source", "status", "--tenant", name);
    expect(status.code).toBe(0);
    expect(Object.keys(status.lines[0] ?? {}).slice(0, 10)).toEqual([
      "tenant",
      "url",
      "cursor",
      "paused",
      "lastFetchAt",
      "lastSuccessAt",
      "lastError",
      "consecutiveFailures",
      "eventsStored",
      "pagesCommitted",
    ]);
    expect(status.lines[0]).toMatchObject({
      cursor: null,
      lastFetchAt: null,
      lastSuccessAt: null,
      lastError: null,
      consecutiveFailures: 0,
      eventsStored: 0,
      pagesCommitted: 0,
    });

    expect((await tidemark("source", "pause", "--tenant", name)).lines[0]).toMatchObject({ paused: true });
    expect((await tidemark("source", "resume", "--tenant", name)).lines[0]).toMatchObject({ paused: false });

    // Only the URL given: interval, page size, token and item URL stay; "" removes the token.
    const again = await tidemark("source", "set", "--tenant", name, "--url", url, "--token", "");
    expect(again.lines[0]).toMatchObject({ intervalMs: 2500, pageSize: 40, itemUrl: "http://127.0.0.1:9/items", hasToken: false });
    const { rows } = await pool.query("SELECT token FROM sources s JOIN tenants t ON t.id = s.tenant_id WHERE t.slug = $1", [name]);
    expect(rows[0]).toEqual({ token: null });

    expect((await tidemark("source", "remove", "--tenant", name)).lines[0]).toEqual({ tenant: name, removed: true });
    const gone = await tidemark("source", "status", "--tenant", name);
    expect(gone.code).toBe(1);
    expect(cliError(gone).code).toBe("not_found");
  });

  it("set refuses a bad URL, a URL with credentials and a bad token, naming the flag and never echoing the token", async () => {
    const { slug: name } = await tenantFixture();
    const result = await tidemark("source", "set", "--tenant", name, "--url", "ftp://example.test/feed", "--token", "has space secret", "--page-size", "5000");
    expect(result.code).toBe(1);
    const error = cliError(result);
    expect(error.code).toBe("validation_failed");
    expect(error.message).toContain("--url");
    expect(error.message).toContain("--token");
    expect(error.message).toContain("--page-size");
    expect(result.stderr).not.toContain("has space secret");

    const credentials = await tidemark("source", "set", "--tenant", name, "--url", "https://user:pw@example.test/feed");
    expect(credentials.code).toBe(1);
    expect(cliError(credentials).message).toContain("user name or password");
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM sources s JOIN tenants t ON t.id = s.tenant_id WHERE t.slug = $1", [name]);
    expect(rows[0]).toEqual({ n: 0 });
  });
});

describe("tidemark user", () => {
  it("create prints a generated password only when none was given", async () => {
    const tenant = await tenantFixture();
    const generated = await tidemark("user", "create", "--email", `Gen-${tenant.slug}@Example.test`, "--role", "viewer", "--tenant", tenant.slug);
    expect(generated.code).toBe(0);
    expect(generated.lines[0]).toMatchObject({ email: `gen-${tenant.slug}@example.test`, role: "viewer", password: expect.any(String) });

    const chosen = await tidemark("user", "create", "--email", `set-${tenant.slug}@example.test`, "--role", "admin", "--password", "a long enough password");
    expect(chosen.code).toBe(0);
    expect(chosen.lines).toEqual([{ id: expect.any(Number), email: `set-${tenant.slug}@example.test`, role: "admin" }]);

    const { rows } = await pool.query("SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1", [tenant.id]);
    expect(rows).toEqual([{ email: `gen-${tenant.slug}@example.test` }]);
  });
});

describe("tidemark usage and errors", () => {
  it("invalid values exit 1 with one JSON error naming each flag, and no stack", async () => {
    const result = await tidemark("tenant", "create", "--slug", "Not A Slug", "--rate", "fast");
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    const error = cliError(result);
    expect(error.code).toBe("validation_failed");
    expect(error.message).toContain("--slug: must be 1–63 lowercase letters");
    expect(error.message).toContain('--rate: must be a number (got "fast")');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("an unreachable database exits 1 with an unavailable JSON error, and no stack", async () => {
    // Port 1 on the loopback: nothing listens there, so the connection is refused at once.
    const result = await runTidemark({ DATABASE_URL: "postgresql://postgres@127.0.0.1:1/tidemark" }, "tenant", "list");
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(cliError(result).code).toBe("unavailable");
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("an unknown command exits 2 with the usage on stderr", async () => {
    const result = await tidemark("tenant", "explode");
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain('unknown command "tenant explode"');
    expect(result.stderr).toContain("usage: npm run tidemark -- <command>");
  });

  it("an unknown flag exits 2 with the usage on stderr", async () => {
    const result = await tidemark("backlog", "--tenant", "acme", "--verbose");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Unknown option '--verbose'");
    expect(result.stderr).toContain("usage: npm run tidemark -- <command>");
  });

  it("a missing required flag exits 2 with the usage on stderr", async () => {
    const result = await tidemark("user", "create", "--email", "x@example.test");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("user create: missing --role");
  });

  it("help prints the usage on stderr, nothing on stdout, and exits 2", async () => {
    const result = await tidemark("help");
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("items export --tenant S [--include-deleted]");
  });
});
