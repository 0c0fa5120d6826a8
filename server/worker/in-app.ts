/**
 * The worker inside the Next.js process (`npm start`), started once by
 * instrumentation.ts. `npm start` sets NEXT_MANUAL_SIG_HANDLE so that Next.js
 * leaves SIGINT/SIGTERM to this module: it stops the worker (in-flight
 * batches finish or are given back) before the process exits.
 */
import { env } from "../env.ts";
import { flushWebhookAnswers } from "../ingest/webhook-answers.ts";
import { log } from "../log.ts";
import { Worker, workerOptionsFromEnv } from "./worker.ts";

const SHUTDOWN_GRACE_MS = 10_000;

const globalForWorker = globalThis as unknown as { tidemarkInAppWorker?: Promise<Worker | null> };

async function start(): Promise<Worker | null> {
  const worker = env.WORKER_CONCURRENCY > 0 ? new Worker(workerOptionsFromEnv()) : null;
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ module: "app", signal }, "shutting down");
    void (worker ? worker.stop(SHUTDOWN_GRACE_MS) : Promise.resolve())
      .then(() => flushWebhookAnswers())
      .catch((error: Error) => log.error({ module: "app", err: error.message }, "did not stop cleanly"))
      .finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
  if (worker) await worker.start();
  return worker;
}

export function startInAppWorker(): Promise<Worker | null> {
  return (globalForWorker.tidemarkInAppWorker ??= start().catch((error: Error) => {
    // The web app still serves (ingestion needs no worker); the events wait for a worker.
    log.error({ module: "app", err: error.message }, "the in-app worker could not start; events will wait for a worker");
    return null;
  }));
}
