/**
 * The embedded PostgreSQL that `npm start` uses when DATABASE_URL is unset.
 *
 * Data lives in .data/postgres; the port and password are chosen once and
 * kept in .data/embedded-postgres.json, so every later `npm start`, `npm run
 * tidemark` or `npm run worker` finds the same server. If one is already
 * running on that data directory (its postmaster.pid names a live process)
 * it is reused and left running; otherwise it is started and the caller owns
 * it (and stops it). Binaries come from the embedded-postgres npm packages;
 * nothing is downloaded.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import pg from "pg";
import { DATA_DIR, PROJECT_ROOT } from "./paths.ts";

/** Where one embedded server keeps its cluster and its port and password. */
interface Layout {
  dataDir: string;
  clusterDir: string;
  stateFile: string;
}

function layout(dataDir: string): Layout {
  return { dataDir, clusterDir: path.join(dataDir, "postgres"), stateFile: path.join(dataDir, "embedded-postgres.json") };
}
const DATABASE = "tidemark";
const USER = "postgres";
/** Away from 5432, where a machine's own PostgreSQL usually listens. */
const PREFERRED_PORT = 54329;

interface EmbeddedState {
  port: number;
  password: string;
}

export interface EmbeddedDatabase {
  url: string;
  /** True when this process started the server (and so is the one to stop it). */
  owned: boolean;
  /**
   * Stops the server if this process started it and no other process is
   * connected to it (another `npm start` or a CLI may have found it running
   * and be using it); otherwise leaves it running.
   */
  stopUnlessInUse(announce: (line: string) => void): Promise<void>;
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

async function freePort(preferred: number): Promise<number> {
  for (let port = preferred; port < preferred + 100; port++) if (await isPortFree(port)) return port;
  throw new Error(`no free port in ${preferred}–${preferred + 99} for the embedded PostgreSQL`);
}

async function loadOrCreateState({ dataDir, stateFile }: Layout): Promise<EmbeddedState> {
  if (existsSync(stateFile)) return JSON.parse(await readFile(stateFile, "utf8")) as EmbeddedState;
  await mkdir(dataDir, { recursive: true });
  const state: EmbeddedState = { port: await freePort(PREFERRED_PORT), password: randomBytes(18).toString("base64url") };
  await writeFile(stateFile, JSON.stringify(state, null, 2), { mode: 0o600 });
  return state;
}

/** Events on which async-exit-hook (a dependency of embedded-postgres) installs listeners when first imported. */
const EXIT_HOOK_EVENTS = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"] as const;

/**
 * Loads embedded-postgres without its exit hooks. Importing it installs
 * listeners that, on the first signal or when the event loop empties, stop
 * every server this process started and exit at once. Tidemark stops its
 * server itself, after the app has stopped and only if no other process uses
 * it; a server left behind by a crash is found and reused by the next start.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(EXIT_HOOK_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  for (const event of EXIT_HOOK_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)?.has(listener)) process.off(event, listener as (...args: unknown[]) => void);
    }
  }
  return EmbeddedPostgres;
}

/** The pid in postmaster.pid, if that process is alive. */
async function runningPostmaster({ clusterDir }: Layout): Promise<number | null> {
  const pidFile = path.join(clusterDir, "postmaster.pid");
  if (!existsSync(pidFile)) return null;
  const pid = Number((await readFile(pidFile, "utf8")).split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

async function ensureDatabase(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url.replace(/\/[^/]*$/, "/postgres") });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
}

/** Uses (starting it if needed) the embedded server whose data is in `dataDir` (.data by default). */
export async function useEmbeddedPostgres(log: (line: string) => void, dataDir = DATA_DIR): Promise<EmbeddedDatabase> {
  const where = layout(dataDir);
  const state = await loadOrCreateState(where);
  const url = `postgresql://${USER}:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/${DATABASE}`;

  if (await runningPostmaster(where)) {
    await ensureDatabase(url);
    return { url, owned: false, stopUnlessInUse: async () => undefined };
  }

  const recentLog: string[] = [];
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: where.clusterDir,
    user: USER,
    password: state.password,
    port: state.port,
    persistent: true,
    // PostgreSQL refuses to run as root; the package creates and uses a `postgres` OS user.
    createPostgresUser: true,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1"],
    onLog: (message: string) => {
      recentLog.push(message);
      if (recentLog.length > 20) recentLog.shift();
    },
    onError: (error: unknown) => log(`embedded PostgreSQL: ${String(error)}`),
  });
  if (!existsSync(path.join(where.clusterDir, "PG_VERSION"))) {
    log(`initialising an embedded PostgreSQL in ${path.relative(PROJECT_ROOT, where.clusterDir)}`);
    await server.initialise();
  }
  // start() rejects without a reason when postgres exits early; its own last words say why.
  await server.start().catch((error: unknown) => {
    throw new Error(`the embedded PostgreSQL did not start: ${String(error ?? "")} ${recentLog.join("").trim().slice(-800)}`);
  });
  await ensureDatabase(url);
  log(`embedded PostgreSQL listening on 127.0.0.1:${state.port}`);
  return {
    url,
    owned: true,
    stopUnlessInUse: async (announce) => {
      const others = await otherClients(url).catch(() => 0);
      if (others > 0) {
        announce(`leaving the embedded PostgreSQL running: ${others} other connection${others === 1 ? "" : "s"} use it`);
        return;
      }
      await server.stop();
    },
  };
}

/** Client connections to the server other than the one asking. */
async function otherClients(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    );
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}
