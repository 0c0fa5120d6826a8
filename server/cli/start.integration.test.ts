/**
 * `npm start` failing as a user meets it: the real entry point in a project
 * of its own (DATABASE_URL unset, so the embedded PostgreSQL), judged by its
 * exit status and what it prints. Each failure must end in one line on
 * stderr naming the cause and what to do, never a stack, and must leave no
 * secret behind.
 */
import { mkdir, mkdtemp, chmod, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeProject, runTs, type Run } from "../setup/project-fixture.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Project {
  root: string;
  dataDir: string;
  tmp: string;
  start(): Promise<Run>;
}

/** A project in a world-traversable directory, so the cluster stays in its .data/ (the layout these failures concern). */
async function project(): Promise<Project> {
  const parent = await mkdtemp(path.join(os.tmpdir(), "tidemark-start-"));
  await chmod(parent, 0o755);
  const tmp = await mkdtemp(path.join(os.tmpdir(), "tidemark-tmpdir-"));
  cleanups.push(
    () => rm(parent, { recursive: true, force: true }),
    () => rm(tmp, { recursive: true, force: true }),
  );
  const root = await makeProject(path.join(parent, "tm"));
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp };
  delete env.DATABASE_URL;
  return { root, dataDir: path.join(root, ".data"), tmp, start: () => runTs(root, "server/cli/start.ts", { env, timeoutMs: 120_000 }) };
}

function expectOneClearLine(run: Run, cause: RegExp, action: RegExp): void {
  expect(run.signal).toBeNull();
  expect(run.code).not.toBe(0);
  const lines = run.stderr.split("\n").filter((line) => line !== "");
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^tidemark: /);
  expect(lines[0]).toMatch(cause);
  expect(lines[0]).toMatch(action);
  expect(`${run.stdout}\n${run.stderr}`).not.toMatch(/^\s+at .+[:(]/m);
}

async function writeState(dataDir: string, port: number): Promise<string> {
  const password = "not-a-real-password-0123456789";
  await mkdir(dataDir, { recursive: true });
  await writeFile(path.join(dataDir, "embedded-postgres.json"), JSON.stringify({ port, password }), { mode: 0o600 });
  return password;
}

/** Nothing of the start left in the temp directory (but tsx's compile cache), nor a password file in .data/. */
async function expectNoSecretLeft(target: Project): Promise<void> {
  expect((await readdir(target.tmp)).filter((name) => !/^tsx-\d+$/.test(name))).toEqual([]);
  const state = JSON.parse(await readFile(path.join(target.dataDir, "embedded-postgres.json"), "utf8")) as { password: string };
  for (const name of await readdir(target.dataDir)) {
    const file = path.join(target.dataDir, name);
    expect(name).not.toMatch(/^\.initdb-|pg-password/);
    const info = await stat(file);
    if (info.isFile() && (await readFile(file)).includes(state.password)) expect(info.mode & 0o077, name).toBe(0);
  }
}

describe("npm start with the embedded PostgreSQL, when it cannot start", () => {
  it("names the port when another program holds it, and says how to choose another", async () => {
    const target = await project();
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => holder.close(() => resolve())));
    const port = (holder.address() as net.AddressInfo).port;
    await writeState(target.dataDir, port);

    const run = await target.start();
    expectOneClearLine(
      run,
      new RegExp(`port ${port} of the embedded PostgreSQL .* is in use by another program`),
      /stop that program, or change "port" in \.data\/embedded-postgres\.json/,
    );
    await expectNoSecretLeft(target);
  });

  it("refuses a data directory of another PostgreSQL version, and says how to keep or set aside its data", async () => {
    const target = await project();
    await mkdir(path.join(target.dataDir, "postgres"), { recursive: true });
    await writeFile(path.join(target.dataDir, "postgres", "PG_VERSION"), "12\n");

    const run = await target.start();
    expectOneClearLine(
      run,
      /\.data\/postgres holds a PostgreSQL 12 cluster, but the embedded server is PostgreSQL 1[3-9]/,
      /dump it with PostgreSQL 12 .*move \.data\/postgres aside/,
    );
    await expectNoSecretLeft(target);
  });

  it("reports initdb's own reason when it fails, removes the password file it was given, and says what to do", async () => {
    const target = await project();
    // A directory that is not a cluster but holds something: initdb refuses to initialise over it.
    await mkdir(path.join(target.dataDir, "postgres"), { recursive: true });
    await writeFile(path.join(target.dataDir, "postgres", "notes.txt"), "mine\n");

    const run = await target.start();
    expectOneClearLine(
      run,
      /could not be initialised in \.data\/postgres: .*exists but is not empty \(initdb: exit status 1\)/,
      /fix that, or move \.data\/postgres aside, and start again/,
    );
    expect(run.stdout).toMatch(/initialising an embedded PostgreSQL in \.data\/postgres/);
    expect(await readdir(path.join(target.dataDir, "postgres"))).toEqual(["notes.txt"]);
    await expectNoSecretLeft(target);
  });
});
