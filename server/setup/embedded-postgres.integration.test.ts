/**
 * The embedded PostgreSQL that `npm start` uses when DATABASE_URL is unset:
 * the real binaries from npm, in a data directory of this test's own.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { useEmbeddedPostgres } from "./embedded-postgres.ts";

const dataDir = await mkdtemp(path.join(os.tmpdir(), "tidemark-embedded-"));
// mkdtemp makes it private to its owner; the server runs as the postgres user when started as root, as .data/ allows.
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
});
