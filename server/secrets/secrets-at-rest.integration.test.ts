/**
 * Secrets at rest, from outside: the admin CLI (a child process), the webhook
 * servers over HTTP, and the stored rows read with SQL as a database dump
 * would show them. A dump of PostgreSQL or of the shared cache (Redis) must
 * not give any webhook secret or source token, while the app still verifies
 * and sends them.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliError, runTidemark } from "../../test/cli.ts";
import type { TestServer } from "../../test/http.ts";
import { itemEvent, postSigned, serveFastPath, uniqueSlug } from "../../test/webhooks.ts";
import { pool } from "../db.ts";
import { env } from "../env.ts";
import { generateSecret } from "../ingest/signature.ts";
import { forgetTenant, secretsOpened } from "../ingest/tenant-lookup.ts";
import { seedIfEmpty } from "../setup/seed.ts";
import { secretKeyring } from "./keyring.ts";
import { generateSecretKey, keyringOf, open, seal, sealedKeyId } from "./secret-box.ts";

let server: TestServer;
let redis: Redis;
beforeAll(async () => {
  server = await serveFastPath();
  redis = new Redis(env.REDIS_URL ?? "redis://127.0.0.1:6379", { lazyConnect: true });
  await redis.connect();
});
afterAll(async () => {
  await server.close();
  redis.disconnect();
});

/** The key material of a `whsec_` secret: what must appear nowhere at rest. */
const material = (secret: string) => secret.slice("whsec_".length);
const body = () => JSON.stringify(itemEvent("item.created", { id: `item-${randomBytes(3).toString("hex")}`, version: 1 }));

interface StoredSecrets {
  secret: string;
  previous_secret: string | null;
}

async function storedSecrets(slug: string): Promise<StoredSecrets> {
  const { rows } = await pool.query<StoredSecrets>("SELECT secret, previous_secret FROM tenants WHERE slug = $1", [slug]);
  if (!rows[0]) throw new Error(`no tenant ${slug}`);
  return rows[0];
}

/** Every value in this file's Redis namespace, as text (strings and hashes: what the app stores). */
async function redisDump(): Promise<string> {
  const values: string[] = [];
  for (const key of await redis.keys(`${env.REDIS_KEY_PREFIX}*`)) {
    const type = await redis.type(key);
    if (type === "string") values.push((await redis.get(key)) ?? "");
    else if (type === "hash") values.push(JSON.stringify(await redis.hgetall(key)));
  }
  return values.join("\n");
}

/** Everything stored in the secret columns, as a dump would show it. */
async function allStoredSecretColumns(): Promise<string[]> {
  const { rows } = await pool.query<{ value: string }>(
    "SELECT secret AS value FROM tenants UNION ALL SELECT previous_secret FROM tenants WHERE previous_secret IS NOT NULL UNION ALL SELECT token FROM sources WHERE token IS NOT NULL UNION ALL SELECT secret FROM alert_target",
  );
  return rows.map((row) => row.value);
}

describe("secrets at rest", () => {
  it("the seed shows the demo tenant's secret once, and stores it sealed", async () => {
    const first = await seedIfEmpty();
    const secret = first.demoTenant?.secret ?? "";
    expect(secret).toMatch(/^whsec_/);
    const stored = await storedSecrets(first.demoTenant?.slug ?? "");
    expect(stored.secret).toMatch(/^tmk1:[0-9a-f]{8}:/);
    expect(stored.secret).not.toContain(material(secret));
    expect((await seedIfEmpty()).demoTenant).toBeUndefined();
  });

  it("a tenant created with the CLI is stored sealed, and the secret it printed signs webhooks", async () => {
    const slug = uniqueSlug("rest");
    const created = await runTidemark({}, "tenant", "create", "--slug", slug);
    expect(created.code).toBe(0);
    const secret = String(created.lines[0]?.secret);
    expect(created.stdout.split(material(secret)).length - 1).toBe(1);

    const stored = await storedSecrets(slug);
    expect(stored.secret.startsWith(`tmk1:${secretKeyring().current.id}:`)).toBe(true);
    expect(JSON.stringify(stored)).not.toContain(material(secret));
    expect(JSON.stringify(stored)).not.toContain(Buffer.from(material(secret), "base64").toString("hex"));

    const response = await postSigned({ url: `${server.url}/api/webhooks/${slug}`, secret, body: body() });
    expect(response.status).toBe(202);
  });

  it("the shared cache holds the tenant row sealed: a Redis dump gives no secret", async () => {
    const slug = uniqueSlug("cache");
    const secret = String((await runTidemark({}, "tenant", "create", "--slug", slug)).lines[0]?.secret);
    expect((await postSigned({ url: `${server.url}/api/webhooks/${slug}`, secret, body: body() })).status).toBe(202);
    const dump = await redisDump();
    // The entry is there (so this looked at it), with the sealed value as stored.
    expect(dump).toContain((await storedSecrets(slug)).secret);
    expect(dump).not.toContain(material(secret));
  });

  it("each secret is decrypted once per process, not once per request, even when the cache entry is reloaded", async () => {
    const slug = uniqueSlug("memo");
    const secret = String((await runTidemark({}, "tenant", "create", "--slug", slug)).lines[0]?.secret);
    const before = secretsOpened();
    for (let i = 0; i < 20; i++) {
      expect((await postSigned({ url: `${server.url}/api/webhooks/${slug}`, secret, body: body() })).status).toBe(202);
      if (i % 5 === 4) await forgetTenant(slug);
    }
    expect(secretsOpened() - before).toBe(1);
  });

  it("a source token set with the CLI is stored sealed and never printed", async () => {
    const slug = uniqueSlug("token");
    await runTidemark({}, "tenant", "create", "--slug", slug);
    const token = `tok_${randomBytes(12).toString("hex")}`;
    const set = await runTidemark({}, "source", "set", "--tenant", slug, "--url", "http://127.0.0.1:9/feed", "--token", token);
    expect(set.code).toBe(0);
    expect(set.stdout + set.stderr).not.toContain(token);
    const { rows } = await pool.query<{ token: string }>("SELECT s.token FROM sources s JOIN tenants t ON t.id = s.tenant_id WHERE t.slug = $1", [slug]);
    const stored = rows[0]?.token ?? "";
    expect(stored).toMatch(/^tmk1:/);
    expect(stored).not.toContain(token);
    expect(open(secretKeyring(), "source-token", stored)).toBe(token);
  });

  it("a start seals the plaintext an older version left, once: a second start changes nothing", async () => {
    const slug = uniqueSlug("legacy");
    const secret = generateSecret();
    const previous = generateSecret();
    const token = `legacy_${randomBytes(8).toString("hex")}`;
    const { rows } = await pool.query<{ id: number }>(
      `INSERT INTO tenants (slug, name, secret, previous_secret, previous_secret_expires_at, updated_at)
       VALUES ($1, $1, $2, $3, now() + interval '1 hour', now()) RETURNING id`,
      [slug, secret, previous],
    );
    const tenantId = rows[0]?.id;
    await pool.query(
      "INSERT INTO sources (tenant_id, url, token, interval_ms, page_size, updated_at) VALUES ($1, 'http://127.0.0.1:9/feed', $2, 1000, 100, now())",
      [tenantId, token],
    );

    const first = await runTidemark({}, "tenant", "list");
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/encrypted 3 stored secrets under the secret key/);
    const stored = await storedSecrets(slug);
    const storedToken = (await pool.query<{ token: string }>("SELECT token FROM sources WHERE tenant_id = $1", [tenantId])).rows[0]?.token ?? "";
    expect(open(secretKeyring(), "webhook-secret", stored.secret)).toBe(secret);
    expect(open(secretKeyring(), "webhook-secret", stored.previous_secret ?? "")).toBe(previous);
    expect(open(secretKeyring(), "source-token", storedToken)).toBe(token);
    for (const value of await allStoredSecretColumns()) expect(value).toMatch(/^tmk1:/);

    const second = await runTidemark({}, "tenant", "list");
    expect(second.code).toBe(0);
    expect(second.stderr).not.toMatch(/encrypted/);
    expect(await storedSecrets(slug)).toEqual(stored);

    // Both secrets still sign, through the sealed row.
    await forgetTenant(slug);
    for (const signer of [secret, previous]) {
      expect((await postSigned({ url: `${server.url}/api/webhooks/${slug}`, secret: signer, body: body() })).status).toBe(202);
    }
  });

  it("with DATABASE_URL and no key, the CLI refuses to start in one line naming TIDEMARK_SECRET_KEY", async () => {
    const result = await runTidemark({ TIDEMARK_SECRET_KEY: "" }, "tenant", "list");
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    const error = cliError(result);
    expect(error.code).toBe("invalid_configuration");
    expect(error.message).toMatch(/TIDEMARK_SECRET_KEY: is required when DATABASE_URL is set/);
  });

  describe("secrets rotate-key", () => {
    it("re-encrypts every stored secret under the new key, opening the old ones with the previous key; again, it has nothing to do", async () => {
      const slug = uniqueSlug("rotate");
      const secret = String((await runTidemark({}, "tenant", "create", "--slug", slug)).lines[0]?.secret);
      const alertSecret = String((await runTidemark({}, "alert", "target", "--url", "http://127.0.0.1:9/alerts")).lines[0]?.secret);
      const oldKey = env.TIDEMARK_SECRET_KEY ?? "";
      const newKey = generateSecretKey();
      const rotated = keyringOf(newKey, [oldKey]);
      // Tenants with and without a previous secret and a source token were stored by the tests above.
      expect((await allStoredSecretColumns()).length).toBeGreaterThan(3);

      const result = await runTidemark({ TIDEMARK_SECRET_KEY: newKey, TIDEMARK_PREVIOUS_SECRET_KEY: oldKey }, "secrets", "rotate-key");
      expect(result.code).toBe(0);
      const line = result.lines[0] ?? {};
      expect(line).toMatchObject({ keyId: rotated.current.id, sealed: 0, keyFile: null });
      const values = await allStoredSecretColumns();
      expect(line.resealed).toBe(values.length);
      for (const value of values) expect(sealedKeyId(value)).toBe(rotated.current.id);
      // The old key alone opens nothing now; the new one opens the same secret as before.
      const stored = await storedSecrets(slug);
      expect(() => open(keyringOf(oldKey), "webhook-secret", stored.secret)).toThrow(/not configured/);
      expect(open(keyringOf(newKey), "webhook-secret", stored.secret)).toBe(secret);
      const [target] = (await pool.query<{ secret: string }>("SELECT secret FROM alert_target")).rows;
      expect(open(keyringOf(newKey), "alert-secret", target?.secret ?? "")).toBe(alertSecret);

      const again = await runTidemark({ TIDEMARK_SECRET_KEY: newKey, TIDEMARK_PREVIOUS_SECRET_KEY: oldKey }, "secrets", "rotate-key");
      expect(again.lines[0]).toMatchObject({ sealed: 0, resealed: 0 });

      // Back to the test key (the same procedure the other way), for the rest of this file.
      const back = await runTidemark({ TIDEMARK_SECRET_KEY: oldKey, TIDEMARK_PREVIOUS_SECRET_KEY: newKey }, "secrets", "rotate-key");
      expect(back.lines[0]).toMatchObject({ keyId: secretKeyring().current.id, resealed: values.length });
      expect(open(secretKeyring(), "webhook-secret", (await storedSecrets(slug)).secret)).toBe(secret);
    });

    it("a value that opens under no configured key fails the whole rotation and changes nothing", async () => {
      const stray = keyringOf(generateSecretKey());
      const slug = uniqueSlug("stray");
      await pool.query("INSERT INTO tenants (slug, name, secret, updated_at) VALUES ($1, $1, $2, now())", [
        slug,
        seal(stray, "webhook-secret", generateSecret()),
      ]);
      const before = await allStoredSecretColumns();
      const newKey = generateSecretKey();
      const result = await runTidemark({ TIDEMARK_SECRET_KEY: newKey, TIDEMARK_PREVIOUS_SECRET_KEY: env.TIDEMARK_SECRET_KEY ?? "" }, "secrets", "rotate-key");
      expect(result.code).toBe(1);
      expect(cliError(result).message).toContain(`sealed under key ${stray.current.id}, which is not configured`);
      expect(await allStoredSecretColumns()).toEqual(before);
      await pool.query("DELETE FROM tenants WHERE slug = $1", [slug]);
    });
  });
});
