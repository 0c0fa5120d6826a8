/**
 * Health of the parts this process depends on, each probed with a timeout.
 * PostgreSQL is required (no database, no ingestion); the shared store is
 * reported but optional, because the rate limiter fails open without it.
 */
import { pool } from "./db.ts";
import { store } from "./redis.ts";

const PROBE_TIMEOUT_MS = 2_000;

export interface DependencyHealth {
  ok: boolean;
  database: "up" | "down";
  store: "up" | "down" | "in-process";
}

async function probe(check: () => Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
  });
  const result = check().then(
    () => true,
    () => false,
  );
  return Promise.race([result, timeout]).finally(() => clearTimeout(timer));
}

export async function checkHealth(): Promise<DependencyHealth> {
  const [database, storeUp] = await Promise.all([probe(() => pool.query("SELECT 1")), probe(() => store.ping())]);
  return {
    ok: database,
    database: database ? "up" : "down",
    store: store.kind === "memory" ? "in-process" : storeUp ? "up" : "down",
  };
}
