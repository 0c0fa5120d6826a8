/**
 * `npm start`: everything a newcomer needs, in one command.
 *
 * Validates configuration, uses the embedded PostgreSQL when DATABASE_URL is
 * unset, migrates, seeds a first admin and a demo tenant (printing their
 * credentials once), builds if the sources changed, then serves the app in a
 * child process: server/cli/serve.ts, one node:http server that answers the
 * webhooks on its fast path and hands every other request to Next.js (whose
 * instrumentation hook starts the workers). Ctrl-C or SIGTERM stops the app
 * first (it finishes its requests and releases its claimed batches), then
 * the embedded PostgreSQL if this process started it.
 *
 * `npm run dev` does the same with `next dev` and no build (the webhooks are
 * then served by their Next.js route handlers).
 */
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { bootstrap, fail, redact } from "./bootstrap.ts";
import { buildIfNeeded, NEXT_BIN } from "../setup/build.ts";
import { PROJECT_ROOT, SERVE_SCRIPT } from "../setup/paths.ts";

const STOP_GRACE_MS = 20_000;

const { values: flags } = parseArgs({ options: { dev: { type: "boolean", default: false } } });
const say = (line: string) => process.stdout.write(`tidemark: ${line}\n`);

// Next.js telemetry would only try to reach a server this machine may not reach.
process.env.NEXT_TELEMETRY_DISABLED ??= "1";
// Signals go to server/app-lifecycle.ts, which stops the worker before exiting.
process.env.NEXT_MANUAL_SIG_HANDLE = "1";

const boot = await bootstrap({ announce: say }).catch((error: Error) => fail(error.message));
say(`database ${redact(boot.databaseUrl)}${boot.embedded ? " (embedded)" : ""}`);

const { seedIfEmpty } = await import("../setup/seed.ts");
const { closeDatabase } = await import("../db.ts");
const { env } = await import("../env.ts");
try {
  const seeded = await seedIfEmpty().catch(async (error: Error) => {
    await boot.shutdown();
    fail(`could not seed the database: ${error.message}`);
  });
  if (seeded.admin) {
    say(`created the first admin: ${seeded.admin.email}`);
    if (seeded.admin.generatedPassword) say(`  password (shown once): ${seeded.admin.generatedPassword}`);
  }
  if (seeded.demoTenant) {
    say(`created the demo tenant "${seeded.demoTenant.slug}"`);
    say(`  webhook secret (shown once): ${seeded.demoTenant.secret}`);
    say(`  POST http://localhost:${env.PORT}/api/webhooks/${seeded.demoTenant.slug}`);
    say(`  pulling the simulated feed ${seeded.demoTenant.sourceUrl} (stop it: npm run tidemark -- source pause --tenant ${seeded.demoTenant.slug})`);
  }
} finally {
  await closeDatabase();
}

if (!flags.dev) {
  try {
    await buildIfNeeded(process.env, say);
  } catch (error) {
    await boot.shutdown();
    fail((error as Error).message);
  }
}

const command = flags.dev ? [NEXT_BIN, "dev", "--port", String(env.PORT)] : ["--import", "tsx", SERVE_SCRIPT, "--port", String(env.PORT)];
const app = spawn(process.execPath, command, {
  cwd: PROJECT_ROOT,
  env: flags.dev ? process.env : { ...process.env, NODE_ENV: "production" },
  stdio: "inherit",
});
say(`serving on http://localhost:${env.PORT}`);

let stopping = false;
async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (app.exitCode === null && app.signalCode === null) {
    app.kill(signal === "SIGINT" ? "SIGINT" : "SIGTERM");
    const killer = setTimeout(() => app.kill("SIGKILL"), STOP_GRACE_MS);
    await new Promise((resolve) => app.once("exit", resolve));
    clearTimeout(killer);
  }
  await boot.shutdown();
  say("stopped");
  process.exit(0);
}

process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
app.on("exit", (code, signal) => {
  if (stopping) return;
  say(`the app exited (${signal ?? `code ${code}`})`);
  void boot.shutdown().then(() => process.exit(code ?? 1));
});
