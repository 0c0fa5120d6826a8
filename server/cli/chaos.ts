/**
 * `npm run chaos [-- --quick] [--seed N] [--fault F] [--port-range A-B]`:
 * the whole system under faults, checked against the model
 * (server/chaos/run.ts does the run, server/chaos/checks.ts the checks).
 *
 * Prints the seed first (the same seed replays the same schedule: the
 * deliveries and the faults; the interleavings are the machine's), progress
 * while it runs, one line per check, and last `chaos: ok …` or
 * `chaos: FAILED …`, with exit status 0 or 1 to match. --quick stays under
 * two minutes; the default runs longer. --fault names a deliberate bug
 * (TIDEMARK_FAULT, test-only, server/env-schema.ts) to show that the run
 * catches it. --thin-share sets the share of the small items' changes sent
 * as thin events (0.3 by default; 0: none). The database is created on the local PostgreSQL server
 * (DATABASE_URL's server if set, else 127.0.0.1:5432) and dropped at the end.
 */
import { randomBytes, randomInt } from "node:crypto";
import { parseArgs } from "node:util";
import pg from "pg";
import { ensureBuild } from "../bench/build.ts";
import { FAULTS, type Fault } from "../env-schema.ts";
import { migrate } from "../setup/migrate.ts";
import { LONG, makePlan, QUICK, type PlanSize } from "../chaos/plan.ts";
import { freePort } from "../chaos/processes.ts";

const say = (line: string) => process.stdout.write(`chaos: ${line}\n`);
const failUsage = (message: string): never => {
  process.stderr.write(`chaos: ${message}\n`);
  process.exit(2);
};

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    seed: { type: "string" },
    fault: { type: "string" },
    /** App processes serve the webhook fast path alone, without Next.js (no build needed; for the integration test). */
    "light-apps": { type: "boolean", default: false },
    "port-range": { type: "string" },
    /** Reduced sizes for the integration test of the broken-build control: events per tenant and window seconds. */
    events: { type: "string" },
    "window-s": { type: "string" },
    "thin-share": { type: "string" },
  },
});

const seed = flags.seed === undefined ? randomInt(1, 2 ** 31 - 1) : Number(flags.seed);
if (!Number.isInteger(seed) || seed < 1 || seed >= 2 ** 31) failUsage(`--seed must be a whole number from 1 to ${2 ** 31 - 1} (got ${flags.seed})`);
if (flags.fault !== undefined && !(FAULTS as readonly string[]).includes(flags.fault)) failUsage(`--fault must be one of ${FAULTS.join(", ")}`);
const fault = flags.fault as Fault | undefined;
let portRange: { from: number; to: number } | null = null;
if (flags["port-range"] !== undefined) {
  const match = /^(\d{2,5})-(\d{2,5})$/.exec(flags["port-range"]);
  if (!match || Number(match[1]) > Number(match[2])) failUsage("--port-range must look like 3300-3399");
  portRange = { from: Number(match?.[1]), to: Number(match?.[2]) };
}
const size: PlanSize = { ...(flags.quick ? QUICK : LONG) };
if (flags.events !== undefined) size.eventsPerTenant = size.pulledEvents = Number(flags.events);
if (flags["window-s"] !== undefined) size.windowMs = Number(flags["window-s"]) * 1000;
if (flags["thin-share"] !== undefined) {
  size.thinShare = Number(flags["thin-share"]);
  if (!(size.thinShare >= 0 && size.thinShare <= 1)) failUsage(`--thin-share must be a number from 0 to 1 (got ${flags["thin-share"]})`);
}

const started = Date.now();
say(`seed ${seed} (replay: npm run chaos -- ${flags.quick ? "--quick " : ""}--seed ${seed}${fault ? ` --fault ${fault}` : ""})`);
if (fault) say(`TIDEMARK_FAULT=${fault}: a deliberately broken build; this run is expected to FAIL`);
const plan = makePlan(seed, size);
const faultCounts = ["kill-worker", "kill-app", "restart-redis", "cut-database"].map((kind) => `${plan.faults.filter((f) => f.kind === kind).length} ${kind}`);
say(
  `schedule ${plan.digest.slice(0, 16)}: ${plan.events.length} webhook tenants × ${size.eventsPerTenant} events (+30% duplicates) in ${plan.deliveries.length} deliveries ` +
    `(${plan.deliveries.filter((d) => d.channel === "batch").length} batches) by ${size.senders} senders over ${size.windowMs / 1000} s; ` +
    `1 pull tenant (${size.pulledEvents} events); ${size.apps} apps, ${size.workers} workers; faults: ${faultCounts.join(", ")}`,
);

const serverUrl = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const server = new URL(serverUrl);
if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(server.hostname))
  failUsage(`refusing to run against ${server.hostname}: chaos creates and drops a database on a local PostgreSQL only`);
const maintenance = new URL(serverUrl);
maintenance.pathname = "/postgres";
const name = `tidemark_chaos_${randomBytes(5).toString("hex")}`;
const databaseUrl = new URL(serverUrl);
databaseUrl.pathname = `/${name}`;

async function onServer(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: maintenance.toString(), application_name: "tidemark-chaos" });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

let dropped = false;
async function dropDatabase(): Promise<void> {
  if (dropped) return;
  dropped = true;
  // WITH (FORCE): a killed process's connections may linger.
  await onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((error: Error) => say(`could not drop database ${name}: ${error.message}`));
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping`);
    // The processes it started are killed on exit (server/chaos/processes.ts).
    void dropDatabase().finally(() => process.exit(130));
  });
}

let ok = false;
try {
  if (!flags["light-apps"]) await ensureBuild(process.env, say);
  await onServer(`CREATE DATABASE ${name}`);
  await migrate(databaseUrl.toString());
  say(`database ${name} on ${server.host}`);

  const redisPort = await freePort(portRange, new Set());
  const redisPrefix = `tidemark-chaos:${randomBytes(4).toString("hex")}:`;
  // The run's own modules (tenant creation, the checks) use the run's database and Redis.
  Object.assign(process.env, {
    DATABASE_URL: databaseUrl.toString(),
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    REDIS_KEY_PREFIX: redisPrefix,
    LOG_LEVEL: "error",
    // The run's database is its own and dropped at the end: a key of its own seals its secrets (children inherit it).
    TIDEMARK_SECRET_KEY: process.env.TIDEMARK_SECRET_KEY ?? randomBytes(32).toString("base64"),
  });
  const { runChaos } = await import("../chaos/run.ts");
  const { checks } = await runChaos({
    plan,
    databaseUrl: databaseUrl.toString(),
    redisPort,
    redisPrefix,
    portRange,
    fault,
    lightApps: flags["light-apps"],
    drainTimeoutMs: flags.quick ? 45_000 : 120_000,
    say,
  });
  for (const check of checks) say(`${check.ok ? "✓" : "✗"} ${check.name}: ${check.detail}`);
  const failed = checks.filter((check) => !check.ok);
  ok = failed.length === 0;
  const seconds = Math.round((Date.now() - started) / 1000);
  if (ok) say(`ok seed ${seed}, schedule ${plan.digest.slice(0, 16)}: ${checks.length} checks hold after ${plan.faults.length} faults (${seconds} s)`);
  else
    process.stdout.write(`chaos: FAILED seed ${seed}, schedule ${plan.digest.slice(0, 16)}: ${failed.map((check) => check.name).join(", ")} (${seconds} s)\n`);
} catch (error) {
  process.stdout.write(`chaos: FAILED seed ${seed}: ${(error as Error).stack ?? String(error)}\n`);
} finally {
  await dropDatabase();
}
process.exit(ok ? 0 : 1);
