/**
 * The embedded PostgreSQL that `npm start` uses when DATABASE_URL is unset:
 * the real binaries from npm, in a data directory of this test's own.
 */
import { appendFile, chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { EmbeddedPostgresError, useEmbeddedPostgres } from "./embedded-postgres.ts";
import { makeProject, runTs, startTs } from "./project-fixture.ts";

const dataDir = await mkdtemp(path.join(os.tmpdir(), "tidemark-embedded-"));
// mkdtemp makes it private to its owner; opened, the postgres user (the server's, as root) can enter it, so the
// cluster stays inside it: the layout of a project anywhere but a private directory.
await chmod(dataDir, 0o755);
const quiet = () => undefined;

afterAll(async () => {
  // Whatever a failed test left running: the owner stops it when nothing else is connected.
  const leftover = await useEmbeddedPostgres(quiet, dataDir).catch(() => null);
  await leftover?.stopUnlessInUse(quiet);
  await rm(dataDir, { recursive: true, force: true });
});

async function query(url: string, text: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

describe("embedded PostgreSQL", () => {
  it("initialises, serves a tidemark database, is reused while running, and stops only when unused", async () => {
    const first = await useEmbeddedPostgres(quiet, dataDir);
    expect(first.owned).toBe(true);
    expect(first.url).toMatch(/^postgresql:\/\/postgres:.+@127\.0\.0\.1:\d+\/tidemark$/);
    const state = JSON.parse(await readFile(path.join(dataDir, "embedded-postgres.json"), "utf8")) as Record<string, unknown>;
    expect(Object.keys(state).sort()).toEqual(["password", "port"]);
    expect((await stat(path.join(dataDir, "embedded-postgres.json"))).mode & 0o777).toBe(0o600);
    expect(await readFile(path.join(dataDir, "postgres", "PG_VERSION"), "utf8")).toMatch(/^\d+\n$/);
    expect(await query(first.url, "SELECT current_database() AS name")).toEqual([{ name: "tidemark" }]);

    // A second process (npm run tidemark beside npm start) finds it running and does not own it.
    const second = await useEmbeddedPostgres(quiet, dataDir);
    expect(second).toMatchObject({ url: first.url, owned: false });

    // The owner leaves it running while someone else is connected…
    const user = new pg.Client({ connectionString: first.url });
    await user.connect();
    const said: string[] = [];
    await first.stopUnlessInUse((line) => said.push(line));
    expect(said.join(" ")).toMatch(/leaving the embedded PostgreSQL running: 1 other connection/);
    expect(await query(first.url, "SELECT 1 AS up")).toEqual([{ up: 1 }]);
    await user.end();

    // …and stops it once nobody is.
    await first.stopUnlessInUse(quiet);
    await expect(query(first.url, "SELECT 1")).rejects.toThrow();
  });

  it("keeps its data across a restart", async () => {
    const server = await useEmbeddedPostgres(quiet, dataDir);
    await query(server.url, "CREATE TABLE IF NOT EXISTS kept (n int); INSERT INTO kept VALUES (42)");
    await server.stopUnlessInUse(quiet);
    const again = await useEmbeddedPostgres(quiet, dataDir);
    expect(again.owned).toBe(true);
    expect(await query(again.url, "SELECT n FROM kept")).toEqual([{ n: 42 }]);
    await again.stopUnlessInUse(quiet);
  });

  it("says in one line why PostgreSQL did not start, and where its log is", async () => {
    const conf = path.join(dataDir, "postgres", "postgresql.auto.conf");
    const original = await readFile(conf);
    await appendFile(conf, "shared_buffers = 'plenty'\n");
    try {
      const failure = await useEmbeddedPostgres(quiet, dataDir).then(
        () => null,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(EmbeddedPostgresError);
      const message = (failure as Error).message;
      expect(message).not.toContain("\n");
      expect(message).toMatch(
        /^the embedded PostgreSQL did not start \(exit status 1\): FATAL: {2}configuration file ".*postgresql\.auto\.conf" contains errors: fix that and start again \(its log: .*embedded-postgres\.log\)$/,
      );
    } finally {
      await writeFile(conf, original);
    }
    const healed = await useEmbeddedPostgres(quiet, dataDir);
    expect(healed.owned).toBe(true);
    await healed.stopUnlessInUse(quiet);
  });
});

interface State {
  port: number;
  password: string;
  cluster?: string;
}

async function readState(root: string): Promise<State> {
  return JSON.parse(await readFile(path.join(root, ".data", "embedded-postgres.json"), "utf8")) as State;
}

const urlOf = (state: State) => `postgresql://postgres:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/tidemark`;

/** Every regular file under `dir` (not following symlinks), except under the directories named in `skip`. */
async function filesUnder(dir: string, skip: Set<string>): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && !skip.has(full)) found.push(...(await filesUnder(full, skip)));
    else if (entry.isFile()) found.push(full);
  }
  return found;
}

/** Files that hold `secret` and that a user other than their owner may read. */
async function secretReadableByOthers(dirs: string[], skip: Set<string>, secret: string): Promise<string[]> {
  const exposed: string[] = [];
  for (const dir of dirs) {
    for (const file of await filesUnder(dir, skip)) {
      const { mode } = await stat(file);
      if ((mode & 0o044) !== 0 && (await readFile(file)).includes(secret)) exposed.push(`${file} (${(mode & 0o777).toString(8)})`);
    }
  }
  return exposed;
}

describe("a project in a directory only its owner can enter (mktemp -d, root's home)", () => {
  it("starts, serves, is found by a second process, stops, leaves no password behind, and the next start reuses the cluster", async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), "tidemark-private-"));
    const tmp = await mkdtemp(path.join(os.tmpdir(), "tidemark-tmpdir-"));
    let state: State | null = null;
    try {
      expect((await stat(home)).mode & 0o777).toBe(0o700);
      const root = await makeProject(path.join(home, "tm"));
      // Nothing is shared with this test run: no database URL, no Redis, and a temp directory of its own to inspect.
      const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, WORKER_CONCURRENCY: "1" };
      delete env.DATABASE_URL;
      delete env.REDIS_URL;

      // `npm run worker` is a real entry point that starts the embedded server and holds it until SIGTERM.
      const first = startTs(root, "server/cli/worker.ts", env);
      await first.waitFor(/processing with/, 120_000);
      expect(first.stdout()).toMatch(/initialising an embedded PostgreSQL/);
      state = await readState(root);
      if (process.getuid?.() === 0) {
        // Kept where the postgres user can reach it, owned by that user and private to it.
        expect(state.cluster).toMatch(/^\/var\/lib\/tidemark\/tm-[0-9a-f]+\/postgres$/);
        const cluster = await stat(state.cluster as string);
        expect(cluster.mode & 0o777).toBe(0o700);
        expect(cluster.uid).not.toBe(0);
      }

      const client = new pg.Client({ connectionString: urlOf(state) });
      await client.connect();
      await client.query("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)");
      expect((await client.query("SELECT current_database() AS name")).rows).toEqual([{ name: "tidemark" }]);
      await client.end();

      // `npm run tidemark` beside it finds the same server through .data/ and leaves it running.
      const cli = await runTs(root, "server/cli/tidemark.ts", { args: ["tenant", "list"], env });
      expect(cli).toMatchObject({ code: 0, stderr: "" });
      expect(await query(urlOf(state), "SELECT n FROM kept")).toEqual([{ n: 42 }]);

      expect(await first.stop("SIGTERM")).toMatchObject({ code: 0 });
      await expect(query(urlOf(state), "SELECT 1")).rejects.toThrow();

      // The second start: no new cluster, the same data.
      const second = startTs(root, "server/cli/worker.ts", env);
      await second.waitFor(/processing with/, 120_000);
      expect(second.stdout()).not.toMatch(/initialising/);
      expect(await readState(root)).toEqual(state);
      expect(await query(urlOf(state), "SELECT n FROM kept")).toEqual([{ n: 42 }]);
      expect(await second.stop("SIGTERM")).toMatchObject({ code: 0 });

      // Nothing was left in the temp directory (but tsx's compile cache), and no secret is readable by anyone but its owner.
      expect((await readdir(tmp)).filter((name) => !/^tsx-\d+$/.test(name))).toEqual([]);
      expect(
        (await Promise.all((await filesUnder(tmp, new Set())).map((file) => readFile(file)))).filter((bytes) => bytes.includes(state?.password ?? "")),
      ).toEqual([]);
      const dirs = [home, ...(state.cluster ? [path.dirname(state.cluster)] : [])];
      const skip = new Set([path.join(root, "node_modules"), ...(state.cluster ? [path.join(path.dirname(state.cluster), "postgresql")] : [])]);
      expect(await secretReadableByOthers(dirs, skip, state.password)).toEqual([]);
      const leftovers = (await Promise.all(dirs.map((dir) => filesUnder(dir, skip)))).flat().filter((file) => /pg-password|pwfile/.test(file));
      expect(leftovers).toEqual([]);
    } finally {
      if (state?.cluster) {
        const leftover = await useEmbeddedPostgres(quiet, path.join(home, "tm", ".data")).catch(() => null);
        await leftover?.stopUnlessInUse(quiet);
        if (state.cluster.startsWith("/var/lib/tidemark/")) await rm(path.dirname(state.cluster), { recursive: true, force: true });
      }
      await rm(home, { recursive: true, force: true });
      await rm(tmp, { recursive: true, force: true });
    }
  }, 300_000);
});
