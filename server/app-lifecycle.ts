/**
 * The app process's lifecycle (`npm start`), begun once by instrumentation.ts:
 * start what runs beside the web server (the in-app worker, unless
 * WORKER_CONCURRENCY is 0, and the pull collector, unless
 * COLLECTOR_CONCURRENCY is 0) and, on SIGINT or SIGTERM, stop them (in-flight
 * batches finish or are given back, fetches are aborted and sources given
 * back), flush the counters kept in memory, then exit. `npm start` sets
 * NEXT_MANUAL_SIG_HANDLE so that Next.js leaves these signals to this module.
 *
 * A worker that cannot start does not stop the web app: ingestion needs no
 * worker, and the events wait for one.
 */
import { Collector, collectorOptionsFromEnv } from "./collector/collector.ts";
import { env } from "./env.ts";
import { flushWebhookAnswers } from "./ingest/webhook-answers.ts";
import { log } from "./log.ts";
import { Worker, workerOptionsFromEnv } from "./worker/worker.ts";

const SHUTDOWN_GRACE_MS = 10_000;

const globalForApp = globalThis as unknown as { tidemarkApp?: Promise<Worker | null> };

async function start(): Promise<Worker | null> {
  const worker = env.WORKER_CONCURRENCY > 0 ? new Worker(workerOptionsFromEnv()) : null;
  const collector = env.COLLECTOR_CONCURRENCY > 0 ? new Collector(collectorOptionsFromEnv()) : null;
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ module: "app", signal }, "shutting down");
    // The collector first: it stops adding events, then the worker finishes what it holds.
    void (collector ? collector.stop(SHUTDOWN_GRACE_MS) : Promise.resolve())
      .then(() => (worker ? worker.stop(SHUTDOWN_GRACE_MS) : undefined))
      .then(() => flushWebhookAnswers())
      .catch((error: Error) => log.error({ module: "app", err: error.message }, "did not stop cleanly"))
      .finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
  collector?.start();
  if (worker) await worker.start();
  return worker;
}

/** Starts the app's background parts once per process; later calls get the same promise. */
export function startApp(): Promise<Worker | null> {
  return (globalForApp.tidemarkApp ??= start().catch((error: Error) => {
    log.error({ module: "app", err: error.message }, "the in-app worker could not start; events will wait for a worker");
    return null;
  }));
}
