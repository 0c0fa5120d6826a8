/**
 * Admission control for ingestion: per-tenant token bucket and daily quota,
 * decided by the shared store in one round trip.
 *
 * Fails open: if the store errors or does not answer within the timeout, the
 * request is admitted (the event will still be stored), and the failure is
 * logged (throttled) and counted in tidemark_rate_limiter_unavailable_total.
 * Losing rate limiting for a while is better than losing events.
 *
 * Single-event webhooks are admitted together (admitTogether): the requests
 * of one tenant that ask in the same turn of the event loop get one decision
 * for their summed cost, one round trip instead of one each. That decision
 * equals the one-at-a-time decisions: a bucket holding the sum lets each of
 * them through in turn, and a quota with room for the sum has room for each.
 * When the sum is refused (or exceeds the burst) nothing was taken, and each
 * request is decided on its own, in arrival order, exactly as before.
 */
import { AppError } from "../errors.ts";
import { keys, utcDay } from "../keys.ts";
import { retryAfterSeconds, type Random } from "../lib/jitter.ts";
import { log, throttledLogger } from "../log.ts";
import { metrics } from "../metrics.ts";
import { store as defaultStore, type SharedStore, type TokenResult } from "../redis.ts";
import type { IngestTenant } from "./tenant-lookup.ts";

const STORE_TIMEOUT_MS = 750;
const logUnavailable = throttledLogger(10_000);

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * What admission needs of a tenant: its id and quotas (webhooks pass the cached tenant, the collector its source's),
 * and optionally the cache generation the caller's copy was current at: then the decision is made only if that
 * copy is still current, in the same round trip; otherwise nothing is taken and StaleTenant is thrown.
 */
export type AdmittedTenant = Pick<IngestTenant, "id" | "ratePerSecond" | "burst" | "dailyQuota"> & { generation?: { key: string; expected: string } };

/** The tenant changed since the caller's copy was read (its cache generation moved): reload it and decide again. */
export class StaleTenant extends Error {
  override name = "StaleTenant";
  constructor() {
    super("the tenant changed since it was read");
  }
}

/** Throws a 429 AppError (with a jittered Retry-After) when `tenant` may not add `cost` events now. */
export async function admit(tenant: AdmittedTenant, cost: number, options: { store?: SharedStore; random?: Random } = {}): Promise<void> {
  const store = options.store ?? defaultStore;
  let decision: TokenResult;
  try {
    decision = await withTimeout(
      store.takeTokens({
        bucketKey: keys.rateBucket(tenant.id),
        quotaKey: keys.dailyQuota(tenant.id, utcDay(Date.now())),
        ratePerSecond: tenant.ratePerSecond,
        burst: tenant.burst,
        cost,
        dailyQuota: tenant.dailyQuota,
        ...(tenant.generation ? { generation: tenant.generation } : {}),
      }),
      STORE_TIMEOUT_MS,
    );
  } catch (error) {
    metrics.rateLimiterUnavailable.inc();
    logUnavailable("store", () =>
      log.warn({ module: "rate-limit", err: (error as Error).message }, "rate limiter unavailable; admitting requests without a decision"),
    );
    return;
  }
  if (decision.allowed) return;
  if (decision.reason === "stale") throw new StaleTenant();
  const retryAfter = retryAfterSeconds(decision.retryAfterMs, options.random ?? Math.random);
  if (decision.reason === "quota") {
    throw new AppError("quota_exceeded", `daily quota of ${tenant.dailyQuota} events reached; it resets at 00:00 UTC`, {
      retryAfterSeconds: retryAfter,
    });
  }
  throw new AppError("rate_limited", `rate limit of ${tenant.ratePerSecond}/s (burst ${tenant.burst}) exceeded`, {
    retryAfterSeconds: retryAfter,
  });
}

interface Waiting {
  cost: number;
  resolve(): void;
  reject(error: unknown): void;
}

interface TenantGroup {
  tenant: AdmittedTenant;
  waiting: Waiting[];
}

/** Admissions asked for in the same event-loop turn, grouped per tenant (and its limits), decided at the turn's end. */
export class AdmissionGroups {
  private groups = new Map<string, TenantGroup>();
  private scheduled = false;
  /** Decisions sent to the store so far (tests compare it with the requests). */
  decisions = 0;

  constructor(private readonly options: { store?: SharedStore; random?: Random } = {}) {}

  admit(tenant: AdmittedTenant, cost: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const key = `${tenant.id}:${tenant.ratePerSecond}:${tenant.burst}:${tenant.dailyQuota ?? ""}:${tenant.generation?.expected ?? ""}`;
      let group = this.groups.get(key);
      if (!group) this.groups.set(key, (group = { tenant, waiting: [] }));
      group.waiting.push({ cost, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const groups = [...this.groups.values()];
    this.groups = new Map();
    this.scheduled = false;
    for (const group of groups) void this.decide(group);
  }

  /** Settles every waiting request of the group; never rejects. */
  private async decide({ tenant, waiting }: TenantGroup): Promise<void> {
    const total = waiting.reduce((sum, w) => sum + w.cost, 0);
    if (waiting.length > 1 && total <= tenant.burst) {
      try {
        this.decisions++;
        await admit(tenant, total, this.options);
        for (const w of waiting) w.resolve();
        return;
      } catch (error) {
        // A stale tenant is stale for each of them; the store unavailable was already admitted by admit().
        if (!(error instanceof AppError)) {
          for (const w of waiting) w.reject(error);
          return;
        }
        // Refused as a whole, nothing taken: each on its own, below.
      }
    }
    // Sent in arrival order on one connection, so the store decides them in that order.
    this.decisions += waiting.length;
    await Promise.all(waiting.map((w) => admit(tenant, w.cost, this.options).then(w.resolve, w.reject)));
  }
}

const globalForAdmission = globalThis as unknown as { tidemarkAdmissionGroups?: AdmissionGroups };

/** admit(), with the other requests of this event-loop turn for the same tenant (see the header). */
export function admitTogether(tenant: AdmittedTenant, cost: number): Promise<void> {
  return (globalForAdmission.tidemarkAdmissionGroups ??= new AdmissionGroups()).admit(tenant, cost);
}
