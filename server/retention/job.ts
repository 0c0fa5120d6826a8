/**
 * The retention job: a round of server/retention/retention.ts every
 * RETENTION_INTERVAL_MS (jittered), in every app and worker process; the
 * advisory lock lets one of them run at a time. stop() lets the statement in
 * flight finish (each is one short transaction) and ends the round there.
 */
import { jitterDown, type Random } from "../lib/jitter.ts";
import { log, throttledLogger } from "../log.ts";
import { DEFAULT_RETENTION, runRetention, type RetentionOptions } from "./retention.ts";

export const RETENTION_INTERVAL_MS = 5 * 60_000;
const FIRST_ROUND_MS = 30_000;

const logFailure = throttledLogger(60_000);

export class RetentionJob {
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly intervalMs = RETENTION_INTERVAL_MS,
    private readonly options: RetentionOptions = DEFAULT_RETENTION,
    private readonly random: Random = Math.random,
  ) {}

  start(): void {
    this.schedule(jitterDown(FIRST_ROUND_MS, 0.5, this.random));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.running = this.round().finally(() => {
        this.running = undefined;
        // Processes started together drift apart instead of contending for the lock each time.
        this.schedule(jitterDown(this.intervalMs, 0.2, this.random));
      });
    }, ms);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    try {
      const round = await runRetention({ ...this.options, shouldStop: () => this.stopping });
      if (round && (round.eventsRemoved > 0 || round.tombstonesRemoved > 0 || round.sessionsRemoved > 0)) {
        log.info({ module: "retention", ...round }, "removed old events, tombstones and expired sessions");
      }
    } catch (error) {
      logFailure("round", () => log.warn({ module: "retention", err: (error as Error).message }, "retention round failed; trying again next interval"));
    }
  }
}
