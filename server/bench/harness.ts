/**
 * What every bench mode stands on: one fresh database for the whole run, the
 * environment the app is started with, the production app and the raw HTTP
 * floor on demand, tenants created through the app's own service, and
 * cleanup that runs however the run ends (success, error, Ctrl-C).
 *
 * A mode is a module exporting a BenchMode; it gets a BenchContext, starts
 * what it needs through it (all of it is stopped when the mode ends), and
 * returns a ModeReport. Modes share the database but not tenants: each
 * creates its own, so the figures of one never count the rows of another.
 *
 * Environment: the bench prepares process.env (as server/cli/bootstrap.ts
 * does for the other entry points) before any module that reads it is
 * imported, then hands a copy to each app it starts.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseEnv } from "../env-schema.ts";
import { startApp, type AppServer } from "./app-server.ts";
import { Cleanup } from "./cleanup.ts";
import { createBenchDatabase, type BenchDatabase } from "./bench-database.ts";
import { startHttpFloor, type HttpFloorServer } from "./http-floor.ts";
import type { ModeReport } from "./report.ts";
import type { TQuotas } from "../schemas/tenant.ts";

export interface BenchOptions {
  durationSeconds: number;
  warmupSeconds: number;
  /** Overrides the concurrency of a mode's high-concurrency runs (50 by default in ingest). */
  connections: number | undefined;
  /** Seconds of ingest's fixed-arrival-rate run (latency at half the maximum rate, and the app's RSS over it). */
  openSeconds: number;
  /** Run the app under `node --cpu-prof`, writing profiles into a fresh temporary directory. */
  profile: boolean;
}

export interface BenchTenant {
  id: number;
  slug: string;
  secret: string;
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  node: string;
  loadAverageAtStart: [number, number, number];
}

export interface BenchContext {
  readonly options: BenchOptions;
  readonly database: BenchDatabase;
  readonly machine: MachineInfo;
  /** The environment apps are started with (before per-app overrides). */
  readonly appEnv: Readonly<NodeJS.ProcessEnv>;
  /** Progress, on stderr. */
  announce(line: string): void;
  /** The production app (`npm start`'s server, server/cli/serve.ts), with env overrides; stopped when the mode ends. */
  startApp(overrides?: Record<string, string>): Promise<AppServer>;
  /** A raw node:http no-op server in a child process; stopped when the mode ends. */
  startHttpFloor(): Promise<HttpFloorServer>;
  /** A tenant created by the app's own service; quotas default to never throttling. */
  createTenant(prefix: string, quotas?: Partial<TQuotas>): Promise<BenchTenant>;
  /** Runs `undo` when the mode ends (in reverse order of registration). */
  onModeEnd(label: string, undo: () => Promise<void>): void;
  /** PIDs of the PostgreSQL client backends connected to the bench database now (for CPU figures). */
  databaseBackends(): Promise<number[]>;
}

export interface BenchMode {
  name: string;
  run(context: BenchContext): Promise<ModeReport>;
}

/** Never throttles: the bench measures ingestion, not the limiter's refusals. */
const UNTHROTTLED = { ratePerSecond: 1_000_000, burst: 1_000_000 };

const announce = (line: string) => process.stderr.write(`bench: ${line}\n`);

export interface Harness {
  machine: MachineInfo;
  database: BenchDatabase;
  profileDir: string | null;
  runMode(mode: BenchMode): Promise<ModeReport>;
}

/**
 * Creates the database and prepares the environment. Everything it starts is
 * registered with `cleanup`, which the caller runs at the end and from its
 * signal handlers (so even a Ctrl-C during the migration drops the database).
 */
export async function openHarness(settings: { serverUrl: string; redisUrl: string; options: BenchOptions; cleanup: Cleanup }): Promise<Harness> {
  const { cleanup } = settings;
  const machine: MachineInfo = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? "unknown",
    node: process.version,
    loadAverageAtStart: os.loadavg() as [number, number, number],
  };

  const database = await createBenchDatabase(settings.serverUrl, cleanup);
  announce(`created database ${database.name}`);

  Object.assign(process.env, {
    DATABASE_URL: database.url,
    REDIS_URL: settings.redisUrl,
    // Keys of this run only, so a shared Redis keeps no trace of it and no other user's buckets are touched.
    REDIS_KEY_PREFIX: `tidemark-bench-${randomBytes(4).toString("hex")}:`,
    // Secrets at rest: the run's own key, unless one is configured.
    TIDEMARK_SECRET_KEY: process.env.TIDEMARK_SECRET_KEY?.trim() || randomBytes(32).toString("base64"),
    // The ingest figures must not compete with workers; modes that measure workers override it per app.
    WORKER_CONCURRENCY: "0",
    LOG_LEVEL: "warn",
    NEXT_TELEMETRY_DISABLED: "1",
  });
  parseEnv(process.env); // a bad inherited value stops the bench here, with the variable named
  const appEnv = { ...process.env };

  // Loaded only now: these modules read the environment prepared above.
  const { env } = await import("../env.ts");
  if (env.DATABASE_URL !== database.url || !env.REDIS_KEY_PREFIX.startsWith("tidemark-bench-")) {
    // Something read the configuration before the bench prepared it: the pool or the Redis cleanup would hit someone else's data.
    throw new Error("server/env.ts was loaded before the bench prepared the environment; load modes only through the harness");
  }
  const { closeDatabase, pool } = await import("../db.ts");
  cleanup.add("close the bench's database pool", closeDatabase);
  const { store } = await import("../redis.ts");
  cleanup.add("delete the bench's Redis keys", async () => {
    await store.clearNamespace();
    await store.close();
  });
  const { createTenant } = await import("../tenants/service.ts");

  const profileDir = settings.options.profile ? await mkdtemp(path.join(os.tmpdir(), "tidemark-bench-profile-")) : null;

  const runMode = async (mode: BenchMode): Promise<ModeReport> => {
    const modeCleanup = new Cleanup();
    // Throws BenchStopping if the bench is already stopping (Ctrl-C between modes).
    const endMode = cleanup.add(`end mode ${mode.name}`, () => modeCleanup.run());
    const register = (label: string, undo: () => Promise<void>) => void modeCleanup.add(label, undo);
    const context: BenchContext = {
      options: settings.options,
      database,
      machine,
      appEnv,
      announce: (line) => announce(`${mode.name}: ${line}`),
      onModeEnd: register,
      startApp: (overrides = {}) =>
        startApp({
          env: { ...appEnv, ...overrides },
          nodeArgs: profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [],
          announce: context.announce,
          register,
        }),
      startHttpFloor: () => startHttpFloor(register),
      async createTenant(prefix, quotas = {}) {
        const slug = `${prefix}-${randomBytes(4).toString("hex")}`;
        const { tenant, secret } = await createTenant({ slug, ...UNTHROTTLED, ...quotas });
        return { id: tenant.id, slug: tenant.slug, secret };
      },
      async databaseBackends() {
        // Client backends only: an autovacuum worker cleaning up after an earlier run is not this run's cost.
        const sql = "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()";
        const { rows } = await pool.query<{ pid: number }>(sql, [database.name]);
        return rows.map((row) => row.pid);
      },
    };
    try {
      return await mode.run(context);
    } finally {
      await endMode();
    }
  };

  return { machine, database, profileDir, runMode };
}
