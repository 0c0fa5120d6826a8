/**
 * Applies prisma/migrations/<name>/migration.sql in name order.
 *
 * Guarantees: each migration runs in its own transaction and is recorded in
 * `_prisma_migrations` (Prisma's own table and format: sha256 checksum of the
 * file, finished_at, applied_steps_count) in that same transaction, so it is
 * either applied and recorded or neither. A session advisory lock serialises
 * runners, so running it twice, or from several processes at once, applies
 * each migration exactly once. A recorded migration whose file has changed
 * stops the run: the database and the code disagree and a human must decide.
 */
import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../prisma/migrations");

/** Arbitrary but fixed: every Tidemark migration runner contends for this lock. */
const MIGRATION_LOCK_KEY = 7_204_118_331;

const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id"                  VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum"            VARCHAR(64) NOT NULL,
  "finished_at"         TIMESTAMPTZ,
  "migration_name"      VARCHAR(255) NOT NULL,
  "logs"                TEXT,
  "rolled_back_at"      TIMESTAMPTZ,
  "started_at"          TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    }),
  );
}

export class MigrationError extends Error {
  override name = "MigrationError";
}

/** Brings the database at `connectionString` up to date; returns the names it applied. */
export async function migrate(connectionString: string, migrations?: Migration[]): Promise<string[]> {
  const wanted = migrations ?? (await readMigrations());
  const client = new pg.Client({ connectionString, application_name: "tidemark-migrate" });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    try {
      await client.query(CREATE_MIGRATIONS_TABLE);
      const { rows } = await client.query<{ migration_name: string; checksum: string }>(
        `SELECT migration_name, checksum FROM "_prisma_migrations"
          WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
      );
      const applied = new Map(rows.map((row) => [row.migration_name, row.checksum]));
      const ran: string[] = [];
      for (const migration of wanted) {
        const recorded = applied.get(migration.name);
        if (recorded !== undefined) {
          if (recorded !== migration.checksum) {
            throw new MigrationError(
              `migration ${migration.name} was changed after it was applied (checksum ${recorded.slice(0, 12)}… in the database, ${migration.checksum.slice(0, 12)}… on disk)`,
            );
          }
          continue;
        }
        await client.query("BEGIN");
        try {
          await client.query(migration.sql);
          await client.query(
            `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
             VALUES ($1, $2, $3, now(), clock_timestamp(), 1)`,
            [randomUUID(), migration.checksum, migration.name],
          );
          await client.query("COMMIT");
        } catch (error) {
          await client.query("ROLLBACK");
          throw new MigrationError(`migration ${migration.name} failed: ${(error as Error).message}`);
        }
        ran.push(migration.name);
      }
      return ran;
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
}
