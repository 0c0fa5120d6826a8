/**
 * `npm run worker`: a worker process for scale-out. Run any number, on any
 * machine that reaches the same PostgreSQL (and Redis). It applies events
 * and collects sources (pull mode), each with at least one loop, and runs
 * the retention job and the alert job (one process at a time does a round of
 * each; ALERT_INTERVAL_MS 0 leaves alerts to the other processes). SIGTERM or Ctrl-C
 * stops collecting (a page's transaction in flight finishes), stops the
 * retention job after its statement, stops claiming, finishes or gives back
 * the batches in flight, and exits 0 (1 if a step failed).
 */
import { bootstrap, fail } from "./bootstrap.ts";

const say = (line: string) => process.stdout.write(`tidemark worker: ${line}\n`);
const boot = await bootstrap({ announce: say }).catch((error: Error) => fail(error.message));

const { Worker, workerOptionsFromEnv } = await import("../worker/worker.ts");
const { Collector, collectorOptionsFromEnv } = await import("../collector/collector.ts");
const { RetentionJob } = await import("../retention/job.ts");
const { AlertJob, alertOptionsFromEnv } = await import("../alerts/job.ts");
const { closeDatabase } = await import("../db.ts");

const options = workerOptionsFromEnv();
const worker = new Worker({ ...options, concurrency: Math.max(1, options.concurrency) });
const collectorOptions = collectorOptionsFromEnv();
const collector = new Collector({ ...collectorOptions, concurrency: Math.max(1, collectorOptions.concurrency) });
const retention = new RetentionJob();
const alerts = new AlertJob(alertOptionsFromEnv());
collector.start();
retention.start();
alerts.start();
await worker.start();
say(`processing with ${Math.max(1, options.concurrency)} loops, collecting with ${Math.max(1, collectorOptions.concurrency)} (pid ${process.pid})`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  let status = 0;
  try {
    await Promise.all([collector.stop(), retention.stop(), alerts.stop()]);
    await worker.stop();
    await closeDatabase();
    await boot.shutdown();
  } catch (error) {
    status = 1;
    say(`did not stop cleanly: ${(error as Error).message}`);
  }
  process.exit(status);
}
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
