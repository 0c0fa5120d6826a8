/**
 * The configuration schema and its parser, free of side effects: entry points
 * validate the environment with parseEnv before they start anything (an
 * embedded database, a build), and server/env.ts applies it to the environment
 * of the process.
 * A bad value throws a ConfigError whose message is one line naming the
 * variable, what was expected and what was given.
 */
import { z } from "zod";
import { ZPassword } from "./schemas/user.ts";
import { parseSecretKey } from "./secrets/secret-box.ts";

export class ConfigError extends Error {
  override name = "ConfigError";
}

const integer = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

/**
 * Deliberate bugs for proving that `npm run chaos` and the tests catch them (server/faults.ts reads the
 * setting, in one place). TEST-ONLY: refused unless NODE_ENV=test or TIDEMARK_CHAOS=1.
 * - reverse-lock-order: every other batch takes its item row locks in descending key order.
 * - unlocked-last-admin: deleting a user reads the admins without locking them, so two admins deleting each
 *   other at once can both succeed (server/auth/users.ts).
 * - exit-on-sigterm: the app process exits at SIGTERM at once, without draining (no request finished, no claim given back).
 * - no-lease-heartbeat: a worker never renews its claims' leases, however long a batch runs.
 * - whale-takes-all-loops: a claim takes the open visit at the head of the ring even while another claim
 *   serves it, so a tenant whose visit spans several batches holds every loop until it ends.
 */
export const FAULTS = ["reverse-lock-order", "unlocked-last-admin", "exit-on-sigterm", "no-lease-heartbeat", "whale-takes-all-loops"] as const;
export type Fault = (typeof FAULTS)[number];

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === "" ? undefined : value.trim()));

const POSTGRES_URL = /^postgres(ql)?:\/\//;

const secretKey = z.string().refine((value) => parseSecretKey(value) !== null, "must be 32 bytes in base64 (generate one with: openssl rand -base64 32)");

const schema = z
  .object({
    NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
    /** Set by Next.js while `next build` collects pages; no database is needed then. */
    NEXT_PHASE: optionalString,
    /** "nodejs" or "edge" inside Next.js; unset in plain Node processes. */
    NEXT_RUNTIME: optionalString,

    DATABASE_URL: optionalString.pipe(z.string().regex(POSTGRES_URL, "must be a postgresql:// URL").optional()),
    DATABASE_POOL_SIZE: integer(1, 200, 10),
    /** Requests that may wait for a pool connection at once; one more is refused at once (503), so a stalled database piles nothing up. */
    DATABASE_POOL_MAX_WAITING: integer(0, 100_000, 100),
    /** Longest wait for a connection: opening a new one, or a free one from a full pool. */
    DATABASE_CONNECT_TIMEOUT_MS: integer(100, 60_000, 2_000),
    /** PostgreSQL's statement_timeout on every pool connection; the client itself gives up a few seconds later if the server does not answer at all (a stalled network). */
    DATABASE_STATEMENT_TIMEOUT_MS: integer(100, 3_600_000, 30_000),
    /** PostgreSQL's idle_in_transaction_session_timeout: a transaction left open this long is ended by the server, releasing its locks. */
    DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: integer(100, 3_600_000, 60_000),
    /** TCP keepalive on every connection: the first probe after this long idle, so a peer that vanished is noticed. */
    DATABASE_KEEPALIVE_MS: integer(1_000, 3_600_000, 10_000),
    /** The most time one webhook spends waiting on PostgreSQL (pool, tenant lookup, insert) before it answers 503 with Retry-After. */
    WEBHOOK_DATABASE_TIMEOUT_MS: integer(100, 60_000, 3_500),
    /**
     * The key that webhook secrets and source tokens are sealed under at rest (AES-256-GCM): 32 bytes in
     * base64. Required with DATABASE_URL; without it, `npm start` keeps a generated one in .data/secret.key.
     */
    TIDEMARK_SECRET_KEY: optionalString.pipe(secretKey.optional()),
    /** During a key rotation, the old key: values sealed under it still open (see `secrets rotate-key`). */
    TIDEMARK_PREVIOUS_SECRET_KEY: optionalString.pipe(secretKey.optional()),
    REDIS_URL: optionalString.pipe(
      z
        .string()
        .regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL")
        .optional(),
    ),
    /** Every Redis key starts with this, so tests and deployments can share a server. */
    REDIS_KEY_PREFIX: z.string().min(1).max(64).default("tidemark:"),

    PORT: integer(1, 65535, 3000),
    /**
     * How many reverse proxies in front of the app to believe (server/http/client-address.ts): the client address is
     * taken that many hops from the right of X-Forwarded-For, and X-Forwarded-Proto is believed. 0: none (the socket).
     */
    TRUST_PROXY: integer(0, 10, 0),
    /** When set, GET /api/metrics requires `Authorization: Bearer <this>`; unset, it is open. */
    METRICS_TOKEN: optionalString.pipe(z.string().min(16, "must be at least 16 characters").optional()),
    ADMIN_EMAIL: optionalString.pipe(z.email("must be an email address").optional()),
    ADMIN_PASSWORD: optionalString.pipe(ZPassword.optional()),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    /** Where log lines go; the admin CLI sends them to stderr so stdout holds only its JSON. */
    LOG_DESTINATION: z.enum(["stdout", "stderr"]).default("stdout"),

    /** Largest accepted body of a single-event webhook, in bytes. */
    WEBHOOK_MAX_BODY_BYTES: integer(1024, 64 * 1024 * 1024, 256 * 1024),
    /** Largest accepted body of a batch webhook, in bytes. */
    WEBHOOK_MAX_BATCH_BYTES: integer(1024, 256 * 1024 * 1024, 4 * 1024 * 1024),
    /**
     * How long a single-event webhook waits for others to share its commit (server/ingest/group-commit.ts);
     * 0: only those that arrive in the same turn of the event loop.
     */
    WEBHOOK_GROUP_COMMIT_MS: integer(0, 100, 1),
    /** Most events in one group commit; 1 stores every single-event webhook on its own. */
    WEBHOOK_GROUP_MAX_EVENTS: integer(1, 1_000, 200),
    /** How long a tenant lookup is cached in-process (jittered by up to 20%). */
    TENANT_CACHE_TTL_MS: integer(0, 600_000, 5_000),

    /** Worker loops run inside the app process (`npm start`); 0 turns them off. */
    WORKER_CONCURRENCY: integer(0, 64, 2),
    /** Events a tenant may take per scheduling turn, times its weight. */
    WORKER_QUANTUM: integer(1, 10_000, 100),
    /** Upper bound on one claimed batch, whatever the weight. */
    WORKER_MAX_BATCH: integer(1, 10_000, 500),
    /** How long a claimed batch stays leased without a heartbeat (renewed every third of it while the batch runs). */
    WORKER_LEASE_MS: integer(500, 3_600_000, 30_000),
    /** A batch is sized to take about this long at the worker's measured rate (never more than WORKER_MAX_BATCH); 0: by count only. */
    WORKER_BATCH_MS: integer(0, 600_000, 200),
    /** Attempts before an event is dead. */
    WORKER_MAX_ATTEMPTS: integer(1, 100, 5),
    /** Idle workers look for work this often even without a wake-up signal. */
    WORKER_POLL_MS: integer(10, 60_000, 1_000),

    /** Collector loops (pull mode) inside each app process; 0 turns them off. */
    COLLECTOR_CONCURRENCY: integer(0, 16, 1),
    /** A fetch of a source's page that takes longer fails (and backs off). */
    COLLECTOR_FETCH_TIMEOUT_MS: integer(100, 600_000, 10_000),
    /** How long a collector holds a source without renewing; must exceed the fetch timeout. */
    COLLECTOR_LEASE_MS: integer(500, 3_600_000, 30_000),
    /** Largest page body accepted from a source, in bytes. */
    COLLECTOR_MAX_PAGE_BYTES: integer(1024, 256 * 1024 * 1024, 8 * 1024 * 1024),

    /** How often the alert evaluator runs (one process at a time, server/alerts); 0 turns it off in this process. */
    ALERT_INTERVAL_MS: integer(0, 3_600_000, 15_000),
    /** Hysteresis: how long a firing alert's value must stay at or below 80% of its threshold before it resolves. */
    ALERT_RESOLVE_AFTER_MS: integer(0, 86_400_000, 60_000),
    /** An alert POST that takes longer fails, and is retried with backoff. */
    ALERT_DELIVERY_TIMEOUT_MS: integer(100, 120_000, 10_000),
    /** The first retry of a failed alert delivery waits about this long; each further one twice as long (jittered), up to 10 minutes. */
    ALERT_RETRY_BASE_MS: integer(10, 600_000, 1_000),

    /** How long an item state fetched for thin events stays fresh in the shared cache (jittered by up to 20%). */
    ITEM_CACHE_TTL_MS: integer(1, 86_400_000, 60_000),
    /** A fetch from a tenant's item API (thin events) that takes longer fails, and the event is retried; keep it well under WORKER_LEASE_MS. */
    ITEM_FETCH_TIMEOUT_MS: integer(100, 600_000, 5_000),
    /** TEST-ONLY: a deliberate bug (FAULTS above). Never set it on a deployment. */
    TIDEMARK_FAULT: optionalString.pipe(z.enum(FAULTS).optional()),
    /** "1" in the processes `npm run chaos` starts: the one way besides NODE_ENV=test to allow TIDEMARK_FAULT. */
    TIDEMARK_CHAOS: optionalString,
  })
  .superRefine((config, context) => {
    // Secrets are sealed at rest; a database of our own is never used without the key (none is invented,
    // which would make every stored secret unreadable at the next start). `next build` connects to nothing.
    // (Only for a valid URL: a bad one is reported on its own.)
    const databaseUrl = config.DATABASE_URL;
    if (databaseUrl && POSTGRES_URL.test(databaseUrl) && !config.TIDEMARK_SECRET_KEY && config.NEXT_PHASE !== "phase-production-build") {
      context.addIssue({
        code: "custom",
        path: ["TIDEMARK_SECRET_KEY"],
        message:
          "is required when DATABASE_URL is set: webhook secrets and source tokens are encrypted under it; generate one with openssl rand -base64 32 and keep it (unset DATABASE_URL to use the embedded PostgreSQL, which keeps its own key in .data/secret.key)",
      });
    }
    // A fault is a bug on purpose: a production process must not start with one.
    if (config.TIDEMARK_FAULT !== undefined && config.NODE_ENV !== "test" && config.TIDEMARK_CHAOS !== "1") {
      context.addIssue({
        code: "custom",
        path: ["TIDEMARK_FAULT"],
        message: "is test-only: it injects a bug, so it is refused unless NODE_ENV=test or TIDEMARK_CHAOS=1",
      });
    }
    // A lease shorter than a fetch could expire mid-fetch and let a second collector in.
    if (config.COLLECTOR_LEASE_MS <= config.COLLECTOR_FETCH_TIMEOUT_MS) {
      context.addIssue({
        code: "custom",
        path: ["COLLECTOR_LEASE_MS"],
        message: `must be greater than COLLECTOR_FETCH_TIMEOUT_MS (${config.COLLECTOR_FETCH_TIMEOUT_MS})`,
      });
    }
  });

export type Env = z.infer<typeof schema>;

// A rejected secret is still someone's secret (often one typo from the real one), and the
// message goes to logs: it is described by its length, and a URL's password is masked.
const SECRET_VARIABLES = new Set(["ADMIN_PASSWORD", "METRICS_TOKEN", "TIDEMARK_SECRET_KEY", "TIDEMARK_PREVIOUS_SECRET_KEY"]);

function shown(name: string, given: string): string {
  if (SECRET_VARIABLES.has(name)) return `${given.length} characters`;
  if (URL.canParse(given)) {
    const url = new URL(given);
    if (url.password) {
      url.password = "***";
      return JSON.stringify(url.toString());
    }
  }
  return JSON.stringify(given);
}

function describe(issue: z.core.$ZodIssue, source: Readonly<Record<string, string | undefined>>): string {
  const name = issue.path.join(".");
  const given = source[name];
  return `${name}: ${issue.message}${given === undefined ? "" : ` (got ${shown(name, given)})`}`;
}

export function parseEnv(source: Readonly<Record<string, string | undefined>>): Env {
  const result = schema.safeParse(source);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => describe(issue, source)).join("; ");
    throw new ConfigError(`Invalid configuration: ${problems}`);
  }
  return result.data;
}
