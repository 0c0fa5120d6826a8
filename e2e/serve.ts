/**
 * The Playwright web server: the real start path on a database of its own.
 *
 * Creates tidemark_e2e_<run> on the local PostgreSQL (test/database.ts
 * refuses any other host), then runs server/cli/start.ts (migrate, seed the
 * admin, build when the sources changed, `next start`) on it, on E2E_PORT,
 * with a Redis key prefix of its own, and a short alert interval. SIGINT/SIGTERM are passed on to the
 * app; when it has exited, the database is dropped (WITH (FORCE)) and the
 * run's Redis keys deleted, so a run leaves nothing behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createDatabase, dropDatabase } from "../test/database.ts";
import { E2E_ADMIN_EMAIL, E2E_ADMIN_PASSWORD, E2E_PORT, e2eDatabaseName, e2eRunId } from "./environment.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const say = (line: string) => process.stderr.write(`e2e-serve: ${line}\n`);

const run = e2eRunId();
const database = e2eDatabaseName(run);

let app: ChildProcess | null = null;
let stopSignal: NodeJS.Signals | null = null;

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    stopSignal ??= signal;
    // Before the app exists there is nothing to wait for; the start-up below notices stopSignal.
    if (app && app.exitCode === null && app.signalCode === null) app.kill(signal);
  });
}

process.env.REDIS_URL ||= "redis://127.0.0.1:6379";
process.env.REDIS_KEY_PREFIX = `tidemark-e2e:${run}:`;
process.env.NEXT_TELEMETRY_DISABLED = "1";

// Imported now, not at clean-up: the stop signal goes to the whole process group,
// tsx's esbuild service included, so nothing can be transpiled after it.
const { closeStore, store } = await import("../server/redis.ts");

async function cleanUp(): Promise<void> {
  await dropDatabase(database).catch((error: Error) => say(`could not drop ${database}: ${error.message}`));
  await store.clearNamespace().catch((error: Error) => say(`could not clear the run's Redis keys: ${error.message}`));
  await closeStore();
}

const databaseUrl = await createDatabase(database);
say(`created database ${database}`);
if (stopSignal) {
  await cleanUp();
  process.exit(0);
}

app = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "server/cli/start.ts")], {
  cwd: ROOT,
  env: {
    ...process.env,
    DATABASE_URL: databaseUrl,
    PORT: String(E2E_PORT),
    ADMIN_EMAIL: E2E_ADMIN_EMAIL,
    ADMIN_PASSWORD: E2E_ADMIN_PASSWORD,
    // Alerts evaluated every second and resolved after 2 s clear, so e2e/alerts.spec.ts sees them within seconds.
    ALERT_INTERVAL_MS: process.env.ALERT_INTERVAL_MS ?? "1000",
    ALERT_RESOLVE_AFTER_MS: process.env.ALERT_RESOLVE_AFTER_MS ?? "2000",
    ALERT_RETRY_BASE_MS: process.env.ALERT_RETRY_BASE_MS ?? "200",
  },
  stdio: "inherit",
});

const code = await new Promise<number>((resolve) => {
  app?.on("error", (error) => {
    say(`could not start the app: ${error.message}`);
    resolve(1);
  });
  app?.on("exit", (exitCode, signal) => resolve(exitCode ?? (signal === stopSignal ? 0 : 1)));
});
await cleanUp();
say(`stopped; dropped ${database}`);
process.exit(stopSignal ? 0 : code);
