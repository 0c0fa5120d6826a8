/**
 * Readiness: may this process be sent traffic now? Unlike /api/health
 * (liveness: the process answers), it is ready only when
 * - PostgreSQL answers and has every migration this code needs
 *   (LATEST_MIGRATION; a newer database is fine);
 * - Redis answers, when REDIS_URL is set (the in-process store needs nothing);
 * - the in-app workers are running, when WORKER_CONCURRENCY > 0;
 * - the process is not draining (SIGTERM arrived).
 * Each probe has its own timeout and they run together, so the answer comes
 * within READY_TIMEOUT_MS whatever hangs.
 */
import { pool } from "./db.ts";
import { env } from "./env.ts";
import { processState } from "./lifecycle/process-state.ts";
import { store } from "./redis.ts";
import { LATEST_MIGRATION } from "./setup/schema-version.ts";

/** Each probe's bound; under the 2 s a caller may wait for the whole answer. */
export const READY_TIMEOUT_MS = 1_500;

export type Check = "ok" | "failing" | "not-configured";

export interface Readiness {
  ready: boolean;
  database: Check;
  migrations: Check;
  store: Check;
  workers: Check;
  draining: boolean;
}

async function within<T>(check: () => Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), READY_TIMEOUT_MS);
  });
  const result = check().catch(() => undefined);
  return Promise.race([result, timeout]).finally(() => clearTimeout(timer));
}

const HAS_MIGRATION = `SELECT EXISTS (SELECT 1 FROM "_prisma_migrations" WHERE migration_name = $1 AND finished_at IS NOT NULL AND rolled_back_at IS NULL) AS applied`;

/** True or false when the database answered; a database never migrated (no table) answers false. */
async function hasLatestMigration(): Promise<boolean> {
  try {
    return (await pool.query<{ applied: boolean }>(HAS_MIGRATION, [LATEST_MIGRATION])).rows[0]?.applied ?? false;
  } catch (error) {
    if ((error as { code?: string }).code === "42P01") return false;
    throw error;
  }
}

export async function checkReadiness(): Promise<Readiness> {
  const [migrated, storeUp] = await Promise.all([
    within(hasLatestMigration),
    store.kind === "memory" ? Promise.resolve(true) : within(() => store.ping().then(() => true)),
  ]);
  const database: Check = migrated === undefined ? "failing" : "ok";
  const migrations: Check = migrated === true ? "ok" : "failing";
  const storeCheck: Check = store.kind === "memory" ? "not-configured" : storeUp ? "ok" : "failing";
  const workers: Check = env.WORKER_CONCURRENCY === 0 ? "not-configured" : processState.workersRunning && !processState.draining ? "ok" : "failing";
  const draining = processState.draining;
  const ready = database === "ok" && migrations === "ok" && storeCheck !== "failing" && workers !== "failing" && !draining;
  return { ready, database, migrations, store: storeCheck, workers, draining };
}
