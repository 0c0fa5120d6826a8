/**
 * The app process's lifecycle (`npm start`), begun once by instrumentation.ts:
 * start what runs beside the web server (the in-app worker, unless
 * WORKER_CONCURRENCY is 0, the pull collector, unless
 * COLLECTOR_CONCURRENCY is 0, and the alert job, unless ALERT_INTERVAL_MS
 * is 0) and, on SIGINT or SIGTERM, drain in order:
 * 1. the registered drains (the production server stops taking connections
 *    and finishes the requests it has: no acknowledged request is cut off,
 *    and every open group commit completes);
 * 2. the collector (fetches are aborted, sources given back): no new events;
 *    the retention job (its statement in flight finishes); and the alert job
 *    (its round or delivery pass in flight finishes);
 * 3. the worker (in-flight batches finish or are given back);
 * 4. the counters kept in memory are flushed;
 * then exit, with status 0 when every step finished and 1 when one failed.
 * From the signal on, /api/ready answers 503 (server/lifecycle/process-state.ts),
 * so a load balancer stops sending before the server stops accepting.
 * `npm start` sets NEXT_MANUAL_SIG_HANDLE so that Next.js leaves
 * these signals to this module.
 *
 * The state lives on globalThis: Next.js's bundle (instrumentation.ts) and
 * the production server (server/cli/serve.ts) load this module separately,
 * and must share one worker and one list of drains.
 *
 * A worker that cannot start does not stop the web app: ingestion needs no
 * worker, and the events wait for one. Its start is retried with backoff
 * until it runs (server/worker/start-retry.ts), and /api/health answers 503
 * meanwhile.
 */
import { AlertJob, alertOptionsFromEnv } from "./alerts/job.ts";
import { Collector, collectorOptionsFromEnv } from "./collector/collector.ts";
import { env } from "./env.ts";
import { faultActive } from "./faults.ts";
import { flushWebhookAnswers } from "./ingest/webhook-answers.ts";
import { processState } from "./lifecycle/process-state.ts";
import { log } from "./log.ts";
import { RetentionJob } from "./retention/job.ts";
import { startWithRetry } from "./worker/start-retry.ts";
import { Worker, workerOptionsFromEnv } from "./worker/worker.ts";

const SHUTDOWN_GRACE_MS = 10_000;

interface AppState {
  started?: Promise<Worker | null>;
  drains: { label: string; drain: () => Promise<void> }[];
}

const globalForApp = globalThis as unknown as { tidemarkAppState?: AppState };
const state: AppState = (globalForApp.tidemarkAppState ??= { drains: [] });

/** Runs `drain` first when the process is told to stop (before the worker stops). */
export function drainOnShutdown(label: string, drain: () => Promise<void>): void {
  state.drains.push({ label, drain });
}

async function runDrains(): Promise<void> {
  for (const { label, drain } of state.drains) {
    await drain().catch((error: Error) => log.error({ module: "app", err: error.message, drain: label }, "a drain failed; stopping anyway"));
  }
}

async function start(): Promise<Worker | null> {
  const worker = env.WORKER_CONCURRENCY > 0 ? new Worker(workerOptionsFromEnv()) : null;
  const collector = env.COLLECTOR_CONCURRENCY > 0 ? new Collector(collectorOptionsFromEnv()) : null;
  // Maintenance runs where events are processed; its advisory lock lets one process run it at a time.
  const retention = worker ? new RetentionJob() : null;
  // Any process may evaluate alerts; the advisory lock lets one round run at a time.
  const alerts = env.ALERT_INTERVAL_MS > 0 ? new AlertJob(alertOptionsFromEnv()) : null;
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    if (faultActive("exit-on-sigterm")) process.exit(0);
    processState.draining = true;
    log.info({ module: "app", signal }, "shutting down");
    let status = 0;
    void runDrains()
      // Then the collector: it stops adding events, and the worker finishes what it holds.
      .then(() => Promise.all([collector?.stop(SHUTDOWN_GRACE_MS), retention?.stop(), alerts?.stop()]))
      .then(() => {
        processState.workersRunning = false;
        return worker ? worker.stop(SHUTDOWN_GRACE_MS) : undefined;
      })
      .then(() => flushWebhookAnswers())
      .catch((error: Error) => {
        status = 1;
        log.error({ module: "app", err: error.message }, "did not stop cleanly");
      })
      .finally(() => {
        log.info({ module: "app", signal, status }, "stopped");
        process.exit(status);
      });
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
  collector?.start();
  retention?.start();
  alerts?.start();
  if (worker) await startWithRetry(worker, { stopped: () => stopping, onStarted: () => (processState.workersRunning = !stopping) });
  return worker;
}

/** Starts the app's background parts once per process; later calls get the same promise. */
export function startApp(): Promise<Worker | null> {
  return (state.started ??= start().catch((error: Error) => {
    log.error({ module: "app", err: error.message }, "the in-app worker could not start; events will wait for a worker");
    return null;
  }));
}

/** True once startApp has been called in this process (by instrumentation.ts, normally). */
export function appStarted(): boolean {
  return state.started !== undefined;
}
