/**
 * The configuration schema: defaults for an empty environment, and a bad
 * value stops the start with one line that names the variable and what was
 * given (secrets described, not echoed).
 */
import { describe, expect, it } from "vitest";
import { ConfigError, parseEnv } from "./env-schema.ts";

/** A process environment holding only `vars` (NODE_ENV included, only if given). */
const only = (vars: Record<string, string>) => vars as NodeJS.ProcessEnv;

function configError(vars: Record<string, string>): ConfigError {
  try {
    parseEnv(only(vars));
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("parseEnv accepted a bad configuration");
}

describe("parseEnv", () => {
  it("an empty environment gets the documented defaults", () => {
    // toMatchObject: a variable added later brings its own default without breaking this test.
    expect(parseEnv(only({}))).toMatchObject({
      NODE_ENV: "development",
      DATABASE_POOL_SIZE: 10,
      REDIS_KEY_PREFIX: "tidemark:",
      PORT: 3000,
      LOG_LEVEL: "info",
      WEBHOOK_MAX_BODY_BYTES: 256 * 1024,
      WEBHOOK_MAX_BATCH_BYTES: 4 * 1024 * 1024,
      TENANT_CACHE_TTL_MS: 5_000,
      WORKER_CONCURRENCY: 2,
      WORKER_QUANTUM: 100,
      WORKER_MAX_BATCH: 500,
      WORKER_LEASE_MS: 30_000,
      WORKER_MAX_ATTEMPTS: 5,
      WORKER_POLL_MS: 1_000,
      ITEM_CACHE_TTL_MS: 60_000,
      ITEM_FETCH_TIMEOUT_MS: 5_000,
    });
    // Unset means: embedded PostgreSQL, in-process store, no first admin.
    const env = parseEnv(only({}));
    for (const name of ["DATABASE_URL", "REDIS_URL", "METRICS_TOKEN", "ADMIN_EMAIL", "ADMIN_PASSWORD"] as const) expect(env[name]).toBeUndefined();
  });

  it("numbers arrive as strings and are coerced; blank optional strings count as unset", () => {
    const env = parseEnv(only({ PORT: "8080", DATABASE_URL: "  ", REDIS_URL: "", TENANT_CACHE_TTL_MS: "0" }));
    expect(env.PORT).toBe(8080);
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.REDIS_URL).toBeUndefined();
    expect(env.TENANT_CACHE_TTL_MS).toBe(0);
  });

  it.each(["abc", "0", "65536", "3000.5"])("a bad PORT (%s) gives one line naming PORT and the value", (port) => {
    const { message } = configError({ PORT: port });
    expect(message).not.toContain("\n");
    expect(message).toMatch(/^Invalid configuration: PORT: .+/);
    expect(message).toContain(`(got ${JSON.stringify(port)})`);
  });

  it("a DATABASE_URL that is not postgresql:// gives one line naming it and the value", () => {
    const { message } = configError({ DATABASE_URL: "mysql://db.internal/tidemark" });
    expect(message).toBe('Invalid configuration: DATABASE_URL: must be a postgresql:// URL (got "mysql://db.internal/tidemark")');
  });

  it("a rejected URL's password is masked in the message", () => {
    const { message } = configError({ DATABASE_URL: "mysql://app:hunter2-secret@db.internal/tidemark" });
    expect(message).toContain("DATABASE_URL: must be a postgresql:// URL");
    expect(message).toContain('(got "mysql://app:***@db.internal/tidemark")');
    expect(message).not.toContain("hunter2");
  });

  it("TRUST_PROXY defaults to no proxy; a short METRICS_TOKEN is described by its length, not echoed", () => {
    expect(parseEnv(only({})).TRUST_PROXY).toBe(0);
    expect(parseEnv(only({ TRUST_PROXY: "2" })).TRUST_PROXY).toBe(2);
    expect(configError({ METRICS_TOKEN: "short-token" }).message).toBe(
      "Invalid configuration: METRICS_TOKEN: must be at least 16 characters (got 11 characters)",
    );
  });

  it("SESSION_SECRET is gone: no variable is validated and then ignored", () => {
    expect(Object.keys(parseEnv(only({ SESSION_SECRET: "x".repeat(40) })))).not.toContain("SESSION_SECRET");
  });

  it("a short ADMIN_PASSWORD gives one line naming it and describing the value without echoing it", () => {
    const { message } = configError({ ADMIN_PASSWORD: "letmein" });
    expect(message).toBe("Invalid configuration: ADMIN_PASSWORD: must be at least 12 characters (got 7 characters)");
    expect(message).not.toContain("letmein");
  });

  it("the collector's lease must outlast its fetch timeout, or a second collector could take a source mid-fetch", () => {
    expect(parseEnv(only({}))).toMatchObject({ COLLECTOR_CONCURRENCY: 1, COLLECTOR_FETCH_TIMEOUT_MS: 10_000, COLLECTOR_LEASE_MS: 30_000 });
    const { message } = configError({ COLLECTOR_LEASE_MS: "5000" });
    expect(message).toBe('Invalid configuration: COLLECTOR_LEASE_MS: must be greater than COLLECTOR_FETCH_TIMEOUT_MS (10000) (got "5000")');
    expect(parseEnv(only({ COLLECTOR_LEASE_MS: "5000", COLLECTOR_FETCH_TIMEOUT_MS: "4000" })).COLLECTOR_LEASE_MS).toBe(5_000);
  });

  it("several bad values are all named, still on one line", () => {
    const { message } = configError({ PORT: "-1", REDIS_URL: "http://cache", ADMIN_EMAIL: "not-an-email" });
    expect(message).not.toContain("\n");
    for (const name of ["PORT", "REDIS_URL", "ADMIN_EMAIL"]) expect(message).toContain(`${name}: `);
    expect(message).toContain('(got "http://cache")');
  });

  describe("the secret key (TIDEMARK_SECRET_KEY)", () => {
    const key = Buffer.alloc(32, 7).toString("base64");

    it("is required with DATABASE_URL, in one line that says how to make one", () => {
      const { message } = configError({ DATABASE_URL: "postgresql://db.internal/tidemark" });
      expect(message).toMatch(/^Invalid configuration: TIDEMARK_SECRET_KEY: is required when DATABASE_URL is set: .*openssl rand -base64 32/);
      expect(message).not.toContain("\n");
      expect(parseEnv(only({ DATABASE_URL: "postgresql://db.internal/tidemark", TIDEMARK_SECRET_KEY: key })).TIDEMARK_SECRET_KEY).toBe(key);
    });

    it("is not required without DATABASE_URL (the embedded default keeps its own) nor while next build runs", () => {
      expect(parseEnv(only({})).TIDEMARK_SECRET_KEY).toBeUndefined();
      expect(() => parseEnv(only({ DATABASE_URL: "postgresql://db/x", NEXT_PHASE: "phase-production-build" }))).not.toThrow();
    });

    it("a key that is not 32 bytes of base64 is refused, described by its length only", () => {
      const short = Buffer.alloc(16, 7).toString("base64");
      for (const name of ["TIDEMARK_SECRET_KEY", "TIDEMARK_PREVIOUS_SECRET_KEY"]) {
        const { message } = configError({ [name]: short });
        expect(message).toBe(
          `Invalid configuration: ${name}: must be 32 bytes in base64 (generate one with: openssl rand -base64 32) (got ${short.length} characters)`,
        );
      }
    });
  });
});
