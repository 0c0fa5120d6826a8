/**
 * Health of the parts this process depends on, each probed with a timeout.
 * PostgreSQL is required (no database, no ingestion); the shared store is
 * reported but optional, because the rate limiter fails open without it.
 * The in-app workers are required where this process runs them: while their
 * start is being retried (server/worker/start-retry.ts) the process is not
 * healthy. A stalled database costs the probe at most PROBE_TIMEOUT_MS.
 */
import { pool } from "./db.ts";
import { store } from "./redis.ts";
import { workerState, type WorkerState } from "./worker/start-retry.ts";

// Below 2 s, so that /api/health answers within 2 s even when PostgreSQL stalls.
const PROBE_TIMEOUT_MS = 1_500;

export interface DependencyHealth {
  ok: boolean;
  database: "up" | "down";
  store: "up" | "down" | "in-process";
  /** The in-app workers: "off" when this process runs none, "retrying" while their start fails. */
  workers: WorkerState;
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
  const workers = workerState();
  return {
    ok: database && workers !== "retrying",
    database: database ? "up" : "down",
    store: store.kind === "memory" ? "in-process" : storeUp ? "up" : "down",
    workers,
  };
}
