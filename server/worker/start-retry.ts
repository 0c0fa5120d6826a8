/**
 * The in-app worker's start, retried: a database that is down or stalls
 * while the app boots must not leave a process that serves webhooks with no
 * worker behind it. The first attempt is awaited; if it fails, attempts go
 * on in the background with full-jitter backoff (WORKER_START_RETRY_BASE_MS
 * doubling up to WORKER_START_RETRY_CAP_MS) until one succeeds or the
 * process stops.
 *
 * The state (off, starting, running, retrying) is what /api/health reports
 * (server/health.ts): "retrying" makes the process unhealthy, so an
 * operator or an orchestrator sees a process whose workers are not running.
 * It lives on globalThis: the Next.js bundle and the production server load
 * this module separately and must agree.
 */
import { fullJitterBackoff, type Random } from "../lib/jitter.ts";
import { log } from "../log.ts";

export const WORKER_START_RETRY_BASE_MS = 500;
export const WORKER_START_RETRY_CAP_MS = 30_000;

/** off: no worker in this process (WORKER_CONCURRENCY=0, or not an app process). */
export type WorkerState = "off" | "starting" | "running" | "retrying";

interface Status {
  state: WorkerState;
  /** Failed attempts so far. */
  failures: number;
}

const globalForStatus = globalThis as unknown as { tidemarkWorkerStatus?: Status };
const status: Status = (globalForStatus.tidemarkWorkerStatus ??= { state: "off", failures: 0 });

export function workerState(): WorkerState {
  return status.state;
}

export interface Startable {
  start(): Promise<void>;
}

export interface StartRetryOptions {
  /** True once the process is stopping: no further attempt is made. */
  stopped: () => boolean;
  random?: Random;
  baseMs?: number;
  capMs?: number;
  /** Called when an attempt starts the worker (the first or a retry). */
  onStarted?: () => void;
}

/** Starts `worker`, retrying until it starts or `stopped()`; resolves after the first attempt with whether it started. */
export async function startWithRetry(worker: Startable, options: StartRetryOptions): Promise<boolean> {
  const { stopped, random = Math.random, baseMs = WORKER_START_RETRY_BASE_MS, capMs = WORKER_START_RETRY_CAP_MS, onStarted } = options;
  status.state = "starting";
  const attempt = async (): Promise<boolean> => {
    try {
      await worker.start();
      status.state = "running";
      onStarted?.();
      if (status.failures > 0) log.info({ module: "app", failures: status.failures }, "the in-app worker started after failed attempts");
      return true;
    } catch (error) {
      status.state = "retrying";
      status.failures++;
      log.error({ module: "app", err: (error as Error).message, failures: status.failures }, "the in-app worker could not start; retrying");
      return false;
    }
  };
  if (await attempt()) return true;
  const retry = async () => {
    for (let failures = 1; !stopped(); failures++) {
      await new Promise((resolve) => setTimeout(resolve, fullJitterBackoff(failures, baseMs, capMs, random)).unref());
      if (stopped() || (await attempt())) return;
    }
  };
  retry().catch((error: Error) => log.error({ module: "app", err: error.message }, "the worker start retries ended"));
  return false;
}
