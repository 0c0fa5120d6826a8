/**
 * The migration runner on fresh, empty databases of its own (not the
 * migrated template): exactly-once under repetition and concurrency, Prisma's
 * bookkeeping format, refusal of an edited migration, and all-or-nothing for
 * a failing one. Edited and failing migrations use a temporary directory.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { createDatabase, dropDatabase, uniqueName } from "../../test/database.ts";
import { MIGRATIONS_DIR, MigrationError, migrate, readMigrations } from "./migrate.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function emptyDatabase(): Promise<string> {
  const name = uniqueName("tidemark_migrate");
  const url = await createDatabase(name);
  cleanups.push(() => dropDatabase(name));
  return url;
}

async function query<Row extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function tables(url: string): Promise<string[]> {
  const rows = await query<{ table_name: string }>(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name");
  return rows.map((row) => row.table_name);
}

async function recorded(url: string): Promise<string[]> {
  const rows = await query<{ migration_name: string }>(url, `SELECT migration_name FROM "_prisma_migrations" ORDER BY migration_name`);
  return rows.map((row) => row.migration_name);
}

/** A migrations directory of our own: name → SQL. */
async function migrationsDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "tidemark-migrations-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  for (const [name, sql] of Object.entries(files)) await writeMigration(dir, name, sql);
  return dir;
}

async function writeMigration(dir: string, name: string, sql: string): Promise<void> {
  await mkdir(path.join(dir, name), { recursive: true });
  await writeFile(path.join(dir, name, "migration.sql"), sql);
}

async function projectMigrationNames(): Promise<string[]> {
  return (await readdir(MIGRATIONS_DIR, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

describe("migrate", () => {
  it("running it twice applies each migration once", async () => {
    const url = await emptyDatabase();
    const names = await projectMigrationNames();
    expect(names.length).toBeGreaterThan(0);
    expect(await migrate(url)).toEqual(names);
    expect(await migrate(url)).toEqual([]);
    expect(await recorded(url)).toEqual(names);
    expect(await tables(url)).toContain("events");
  });

  it("three concurrent runs all succeed and apply each migration exactly once", async () => {
    const url = await emptyDatabase();
    const names = await projectMigrationNames();
    const runs = await Promise.all([migrate(url), migrate(url), migrate(url)]);
    // One run applied everything; the others waited for its lock and found nothing left to do.
    expect(runs.flat().sort()).toEqual(names);
    expect(await recorded(url)).toEqual(names);
  });

  it("records each migration in Prisma's _prisma_migrations format with the sha256 of its file", async () => {
    const url = await emptyDatabase();
    await migrate(url);

    const columns = await query<{ column_name: string; data_type: string; character_maximum_length: number | null; is_nullable: string }>(
      url,
      `SELECT column_name, data_type, character_maximum_length, is_nullable
         FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY column_name`,
    );
    expect(columns).toEqual([
      { column_name: "applied_steps_count", data_type: "integer", character_maximum_length: null, is_nullable: "NO" },
      { column_name: "checksum", data_type: "character varying", character_maximum_length: 64, is_nullable: "NO" },
      { column_name: "finished_at", data_type: "timestamp with time zone", character_maximum_length: null, is_nullable: "YES" },
      { column_name: "id", data_type: "character varying", character_maximum_length: 36, is_nullable: "NO" },
      { column_name: "logs", data_type: "text", character_maximum_length: null, is_nullable: "YES" },
      { column_name: "migration_name", data_type: "character varying", character_maximum_length: 255, is_nullable: "NO" },
      { column_name: "rolled_back_at", data_type: "timestamp with time zone", character_maximum_length: null, is_nullable: "YES" },
      { column_name: "started_at", data_type: "timestamp with time zone", character_maximum_length: null, is_nullable: "NO" },
    ]);

    const rows = await query<{
      id: string;
      checksum: string;
      migration_name: string;
      finished_at: Date | null;
      rolled_back_at: Date | null;
      started_at: Date;
      applied_steps_count: number;
    }>(url, `SELECT * FROM "_prisma_migrations" ORDER BY migration_name`);
    const names = await projectMigrationNames();
    expect(rows.map((row) => row.migration_name)).toEqual(names);
    for (const row of rows) {
      const file = await readFile(path.join(MIGRATIONS_DIR, row.migration_name, "migration.sql"));
      expect(row.checksum).toBe(createHash("sha256").update(file).digest("hex"));
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.finished_at?.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }
  });

  it("a migration changed after it was applied stops the run with a MigrationError naming it", async () => {
    const url = await emptyDatabase();
    const dir = await migrationsDir({
      "20260101000000_first": "CREATE TABLE first (id int PRIMARY KEY);",
      "20260102000000_second": "CREATE TABLE second (id int PRIMARY KEY);",
    });
    expect(await migrate(url, await readMigrations(dir))).toEqual(["20260101000000_first", "20260102000000_second"]);

    await writeMigration(dir, "20260101000000_first", "CREATE TABLE first (id bigint PRIMARY KEY);");
    await writeMigration(dir, "20260103000000_third", "CREATE TABLE third (id int PRIMARY KEY);");
    const run = migrate(url, await readMigrations(dir));
    await expect(run).rejects.toBeInstanceOf(MigrationError);
    await expect(run).rejects.toThrow(/20260101000000_first was changed after it was applied/);
    // The run stopped there: the new migration after it was not applied.
    expect(await tables(url)).not.toContain("third");
    expect(await recorded(url)).toEqual(["20260101000000_first", "20260102000000_second"]);
  });

  it("a failing migration is rolled back entirely, not recorded, and stops the run", async () => {
    const url = await emptyDatabase();
    const dir = await migrationsDir({
      "20260101000000_good": "CREATE TABLE good (id int PRIMARY KEY);",
      "20260102000000_bad": "CREATE TABLE half_a (id int PRIMARY KEY);\nCREATE TABLE half_b (id int PRIMARY KEY);\nSELECT 1 / 0;",
      "20260103000000_after": "CREATE TABLE after_bad (id int PRIMARY KEY);",
    });
    const run = migrate(url, await readMigrations(dir));
    await expect(run).rejects.toBeInstanceOf(MigrationError);
    await expect(run).rejects.toThrow(/20260102000000_bad failed: division by zero/);

    expect(await tables(url)).toEqual(["_prisma_migrations", "good"]);
    expect(await recorded(url)).toEqual(["20260101000000_good"]);

    // Fixed, it applies on the next run: a failure leaves nothing behind that blocks it.
    await writeMigration(dir, "20260102000000_bad", "CREATE TABLE half_a (id int PRIMARY KEY);\nCREATE TABLE half_b (id int PRIMARY KEY);");
    expect(await migrate(url, await readMigrations(dir))).toEqual(["20260102000000_bad", "20260103000000_after"]);
    expect(await tables(url)).toEqual(["_prisma_migrations", "after_bad", "good", "half_a", "half_b"]);
  });

  it("a migration and its record are one transaction: if recording fails, the migration is undone", async () => {
    const url = await emptyDatabase();
    // Applies, then makes its own bookkeeping row impossible to insert.
    const dir = await migrationsDir({
      "20260101000000_sabotage": `CREATE TABLE applied_but_unrecorded (id int PRIMARY KEY);
ALTER TABLE "_prisma_migrations" ADD CONSTRAINT refuse_all CHECK (false) NOT VALID;`,
    });
    await expect(migrate(url, await readMigrations(dir))).rejects.toThrow(/20260101000000_sabotage failed: .*refuse_all/);
    expect(await tables(url)).toEqual(["_prisma_migrations"]);
    expect(await recorded(url)).toEqual([]);
  });
});
