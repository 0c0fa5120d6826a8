/**
 * Test databases. Every integration test file gets a database of its own,
 * cloned from a template that globalSetup migrated once per run (graphile-
 * worker's approach), so files run in parallel without sharing a row.
 *
 * The server is DATABASE_URL's when set, else the machine's PostgreSQL at
 * 127.0.0.1:5432. Anything but a local server is refused: these helpers
 * create and drop databases.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export function serverUrl(): string {
  return process.env.TIDEMARK_TEST_SERVER_URL ?? process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export function assertLocalDatabase(url: string): void {
  const host = new URL(url).hostname;
  if (!["127.0.0.1", "localhost", "::1", "[::1]", ""].includes(host)) {
    throw new Error(`refusing to create or drop test databases on ${host}: tests only run against a local PostgreSQL`);
  }
}

async function onServer<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const url = withDatabase(serverUrl(), "postgres");
  assertLocalDatabase(url);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString("hex")}`;
}

export async function createDatabase(name: string, template?: string): Promise<string> {
  await onServer((client) => client.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ""}`));
  return withDatabase(serverUrl(), name);
}

export async function dropDatabase(name: string): Promise<void> {
  await onServer((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}
