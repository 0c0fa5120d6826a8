/**
 * The bench's own database: created fresh on the local PostgreSQL for one
 * `npm run bench`, migrated with the project's runner, and dropped by the
 * Cleanup it is registered with, from the moment it exists (so an error or
 * Ctrl-C even during the migration drops it).
 *
 * Only a local server is accepted: the bench creates and drops databases and
 * loads the server as hard as it can, which nobody wants on a shared host.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { migrate } from "../setup/migrate.ts";
import type { Cleanup } from "./cleanup.ts";

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

export function assertLocalServer(url: string): void {
  const host = new URL(url).hostname;
  if (!LOCAL_HOSTS.has(host)) {
    throw new Error(`refusing to benchmark against ${host}: the bench creates, loads and drops a database, so it only runs against a local PostgreSQL`);
  }
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function onMaintenanceDatabase(serverUrl: string, work: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabase(serverUrl, "postgres"), application_name: "tidemark-bench" });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

export interface BenchDatabase {
  name: string;
  url: string;
}

/** Creates and migrates `tidemark_bench_<random>` on the server of `serverUrl`. */
export async function createBenchDatabase(serverUrl: string, cleanup: Cleanup): Promise<BenchDatabase> {
  assertLocalServer(serverUrl);
  const name = `tidemark_bench_${randomBytes(5).toString("hex")}`;
  try {
    await onMaintenanceDatabase(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  } catch (error) {
    throw new Error(`cannot create a bench database on ${new URL(serverUrl).host}: ${(error as Error).message}`);
  }
  // WITH (FORCE) ends connections a killed app may have left behind.
  cleanup.add(`drop database ${name}`, () => onMaintenanceDatabase(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)));
  const url = withDatabase(serverUrl, name);
  await migrate(url);
  return { name, url };
}
