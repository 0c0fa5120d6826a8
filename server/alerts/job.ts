/**
 * The alert job, started beside the workers and the collector in every app
 * and worker process (unless ALERT_INTERVAL_MS is 0): an evaluation round
 * every ALERT_INTERVAL_MS (jittered; the advisory lock lets one process run
 * it at a time, server/alerts/evaluate.ts) and the delivery loop every
 * second and right after a round that fired or resolved something
 * (server/alerts/deliver.ts). A failed round or delivery pass is logged
 * (throttled) and tried again next time. stop() waits for the pass in flight.
 */
import { env } from "../env.ts";
import { jitterDown, type Random } from "../lib/jitter.ts";
import { log, throttledLogger } from "../log.ts";
import { metrics } from "../metrics.ts";
import { deliverDueAlerts, type DeliveryOptions } from "./deliver.ts";
import { evaluateAlerts } from "./evaluate.ts";

const DELIVERY_POLL_MS = 1_000;
const logFailure = throttledLogger(60_000);

export interface AlertJobOptions {
  intervalMs: number;
  resolveAfterMs: number;
  delivery: DeliveryOptions;
  random?: Random;
}

export function alertOptionsFromEnv(): AlertJobOptions {
  return {
    intervalMs: env.ALERT_INTERVAL_MS,
    resolveAfterMs: env.ALERT_RESOLVE_AFTER_MS,
    delivery: { timeoutMs: env.ALERT_DELIVERY_TIMEOUT_MS, retryBaseMs: env.ALERT_RETRY_BASE_MS },
  };
}

export class AlertJob {
  private stopping = false;
  private timers = new Set<NodeJS.Timeout>();
  private running = new Set<Promise<void>>();
  private delivering: Promise<void> | undefined;
  private readonly random: Random;

  constructor(private readonly options: AlertJobOptions) {
    this.random = options.random ?? Math.random;
  }

  start(): void {
    if (this.options.intervalMs <= 0) return;
    this.later(() => this.evaluate(), jitterDown(Math.min(this.options.intervalMs, 5_000), 0.5, this.random));
    this.later(() => this.deliver(), DELIVERY_POLL_MS);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.all([...this.running]);
    await this.delivering;
  }

  private later(task: () => Promise<void>, ms: number): void {
    if (this.stopping) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const run = task().finally(() => this.running.delete(run));
      this.running.add(run);
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  private async evaluate(): Promise<void> {
    try {
      const round = await evaluateAlerts({ resolveAfterMs: this.options.resolveAfterMs });
      if (round && (round.fired > 0 || round.resolved > 0)) {
        metrics.alertTransitions.inc({ result: "fired" }, round.fired);
        metrics.alertTransitions.inc({ result: "resolved" }, round.resolved);
        log.info({ module: "alerts", ...round }, "alerts fired or resolved");
        void this.deliverOnce();
      }
    } catch (error) {
      logFailure("evaluate", () => log.warn({ module: "alerts", err: (error as Error).message }, "alert evaluation failed; trying again next interval"));
    }
    this.later(() => this.evaluate(), jitterDown(this.options.intervalMs, 0.2, this.random));
  }

  private async deliver(): Promise<void> {
    await this.deliverOnce();
    this.later(() => this.deliver(), DELIVERY_POLL_MS);
  }

  /** One delivery pass; a pass already under way is joined, not doubled. */
  private deliverOnce(): Promise<void> {
    return (this.delivering ??= deliverDueAlerts(this.options.delivery)
      .then(() => undefined)
      .catch((error: Error) => {
        logFailure("deliver", () => log.warn({ module: "alerts", err: error.message }, "alert delivery pass failed; trying again shortly"));
      })
      .finally(() => (this.delivering = undefined)));
  }
}
