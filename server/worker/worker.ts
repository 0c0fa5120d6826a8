/**
 * A worker: `concurrency` loops that each claim a fair batch (scheduler.ts),
 * process it (process.ts, which keeps its lease by heartbeat) and repeat,
 * plus a reaper of expired leases.
 *
 * Batches are bounded by time as well as by count: the worker measures how
 * long its batches take per event (a moving average) and claims at most
 * batchMs worth (WORKER_BATCH_MS), never more than maxBatch and never less
 * than one quantum, so the time another tenant's event can wait for a loop
 * to come free is about one batchMs (or one weight-1 visit), whatever a
 * whale's weight. The deficit a smaller batch leaves keeps its visit open
 * (scheduler.ts), so weights are unchanged.
 *
 * Idle loops sleep until new events are signalled (wake.ts) or WORKER_POLL_MS
 * passes, so an idle worker costs one cheap query per poll interval. stop()
 * lets in-flight batches finish within a grace period, then gives back what
 * is still claimed; a worker killed outright loses only its leases, which
 * the reaper of any other worker returns. Nothing here is state another
 * process needs.
 */
import { env } from "../env.ts";
import { fullJitterBackoff, type Random } from "../lib/jitter.ts";
import { log, throttledLogger } from "../log.ts";
import { giveBack, processClaim } from "./process.ts";
import { sampleBacklogs } from "../stats/backlog-sampler.ts";
import { reapExpiredLeases } from "./reaper.ts";
import { claimNext, ensureSchedulerRows, type Claim, type SchedulerSettings } from "./scheduler.ts";
import { onNewEvents } from "../lib/wake.ts";

export interface WorkerOptions extends SchedulerSettings {
  concurrency: number;
  maxAttempts: number;
  pollMs: number;
  /** Target duration of one batch (0: by count only); WORKER_BATCH_MS when absent. */
  batchMs?: number;
  random?: Random;
}

export function workerOptionsFromEnv(): WorkerOptions {
  return {
    concurrency: env.WORKER_CONCURRENCY,
    quantum: env.WORKER_QUANTUM,
    maxBatch: env.WORKER_MAX_BATCH,
    leaseMs: env.WORKER_LEASE_MS,
    maxAttempts: env.WORKER_MAX_ATTEMPTS,
    pollMs: env.WORKER_POLL_MS,
    batchMs: env.WORKER_BATCH_MS,
  };
}

/** Weight of the newest batch in the moving average of milliseconds per event. */
const RATE_SMOOTHING = 0.3;

const logLoopError = throttledLogger(10_000);
/** The backlog chart's resolution is a minute; sampling a little more often never misses one. */
const BACKLOG_SAMPLE_MS = 30_000;

export class Worker {
  private stopping = false;
  private readonly sleepers = new Set<() => void>();
  private readonly inFlight = new Set<Claim>();
  private loops: Promise<void>[] = [];
  private stopListening: (() => Promise<void>) | undefined;
  private reaperTimer: NodeJS.Timeout | undefined;
  private samplerTimer: NodeJS.Timeout | undefined;
  private readonly random: Random;
  private readonly batchMs: number;
  /** Milliseconds per event of recent batches (a moving average); null before the first. */
  private msPerEvent: number | null = null;

  constructor(private readonly options: WorkerOptions) {
    this.random = options.random ?? Math.random;
    this.batchMs = options.batchMs ?? env.WORKER_BATCH_MS;
  }

  /**
   * The most events the next claim may take: batchMs at the measured rate, within one quantum (a
   * weight-1 visit is never split) and maxBatch.
   */
  batchLimit(): number {
    const { maxBatch, quantum } = this.options;
    if (this.batchMs <= 0 || this.msPerEvent === null) return maxBatch;
    return Math.max(Math.min(quantum, maxBatch), Math.min(maxBatch, Math.floor(this.batchMs / this.msPerEvent)));
  }

  private recordBatch(events: number, ms: number): void {
    // A batch's fixed cost (the claim, the round trips, the commit) dominates a small one: only batches
    // of at least half the current limit say what an event costs.
    if (events < this.batchLimit() / 2) return;
    const perEvent = ms / events;
    this.msPerEvent = this.msPerEvent === null ? perEvent : this.msPerEvent * (1 - RATE_SMOOTHING) + perEvent * RATE_SMOOTHING;
  }

  async start(): Promise<void> {
    await ensureSchedulerRows();
    this.stopListening = await onNewEvents(() => this.wakeAll());
    this.loops = Array.from({ length: this.options.concurrency }, (_, slot) => this.runLoop(slot));
    const reapEvery = Math.max(250, Math.min(this.options.leaseMs / 2, 10_000));
    this.reaperTimer = setInterval(() => void this.reap(), reapEvery);
    this.reaperTimer.unref();
    void this.sample();
    this.samplerTimer = setInterval(() => void this.sample(), BACKLOG_SAMPLE_MS);
    this.samplerTimer.unref();
    log.info({ module: "worker", concurrency: this.options.concurrency }, "worker started");
  }

  /** Stops claiming; waits up to `graceMs` for in-flight batches, then gives back the rest. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.reaperTimer);
    clearInterval(this.samplerTimer);
    this.wakeAll();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.all(this.loops), grace]);
    clearTimeout(timer);
    for (const claim of this.inFlight) {
      await giveBack(claim, "worker stopped before finishing the batch", 0).catch((error: Error) =>
        log.warn({ module: "worker", err: error.message }, "could not give back a batch at shutdown; its lease will expire"),
      );
    }
    await this.stopListening?.();
    log.info({ module: "worker" }, "worker stopped");
  }

  private wakeAll(): void {
    for (const wake of this.sleepers) wake();
    this.sleepers.clear();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.sleepers.add(done);
    });
  }

  private async runLoop(slot: number): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      let claim: Claim | null;
      try {
        claim = await claimNext({ quantum: this.options.quantum, maxBatch: this.batchLimit(), leaseMs: this.options.leaseMs });
        failures = 0;
      } catch (error) {
        failures++;
        logLoopError(`claim-${slot}`, () => log.warn({ module: "worker", err: (error as Error).message }, "could not claim work; backing off"));
        await this.sleep(fullJitterBackoff(failures, 100, 5_000, this.random));
        continue;
      }
      if (!claim) {
        await this.sleep(this.options.pollMs);
        continue;
      }
      this.inFlight.add(claim);
      const started = performance.now();
      try {
        await processClaim(claim, { maxAttempts: this.options.maxAttempts, transientRetries: 3, random: this.random });
      } finally {
        this.inFlight.delete(claim);
      }
      this.recordBatch(claim.eventIds.length, performance.now() - started);
    }
  }

  private async sample(): Promise<void> {
    try {
      await sampleBacklogs();
    } catch (error) {
      logLoopError("sampler", () => log.warn({ module: "worker", err: (error as Error).message }, "could not sample backlogs"));
    }
  }

  private async reap(): Promise<void> {
    try {
      const reaped = await reapExpiredLeases();
      if (reaped > 0) {
        log.warn({ module: "worker", reaped }, "returned events whose lease expired");
        this.wakeAll();
      }
    } catch (error) {
      logLoopError("reaper", () => log.warn({ module: "worker", err: (error as Error).message }, "could not reap expired leases"));
    }
  }
}
