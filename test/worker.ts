/**
 * Running the real worker in tests: until a condition holds, or until the
 * inbox has nothing left to process.
 */
import { pool } from "../server/db.ts";
import { Worker, type WorkerOptions } from "../server/worker/worker.ts";

export const TEST_WORKER: WorkerOptions = { concurrency: 2, quantum: 50, maxBatch: 50, leaseMs: 30_000, maxAttempts: 3, pollMs: 20 };

/** Polls `check` until it holds; fails after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function unfinishedEvents(): Promise<number> {
  const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE status = 'pending'");
  return rows[0]?.n ?? -1;
}

/** Runs a worker until no event is pending or in flight, then stops it. */
export async function processAll(options: Partial<WorkerOptions> = {}): Promise<void> {
  const worker = new Worker({ ...TEST_WORKER, ...options });
  await worker.start();
  try {
    await waitFor(async () => (await unfinishedEvents()) === 0);
  } finally {
    await worker.stop();
  }
}
