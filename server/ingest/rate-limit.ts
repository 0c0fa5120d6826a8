/**
 * Admission control for ingestion: per-tenant token bucket and daily quota,
 * decided by the shared store in one round trip.
 *
 * Fails open: if the store errors or does not answer within the timeout, the
 * request is admitted (the event will still be stored), and the failure is
 * logged (throttled) and counted in tidemark_rate_limiter_unavailable_total.
 * Losing rate limiting for a while is better than losing events.
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

/** What admission needs of a tenant: its id and quotas (webhooks pass the cached tenant, the collector its source's). */
export type AdmittedTenant = Pick<IngestTenant, "id" | "ratePerSecond" | "burst" | "dailyQuota">;

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
