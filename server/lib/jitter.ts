/**
 * Randomised delays. Every function takes its random source, so callers in
 * production pass Math.random and tests pass a fixed sequence.
 */

import type { Random } from "./random.ts";

export type { Random };

/** `delay` spread over [delay·(1−fraction), delay] (BullMQ's backoff jitter). */
export function jitterDown(delay: number, fraction: number, random: Random): number {
  return delay * (1 - fraction) + random() * delay * fraction;
}

/** `delay` spread over [delay, delay·(1+fraction)]: never earlier than asked, so a retry never comes too soon. */
export function jitterUp(delay: number, fraction: number, random: Random): number {
  return delay + random() * delay * fraction;
}

/** Exponential backoff with full jitter: uniform in [0, min(cap, base·2^attempt)). */
export function fullJitterBackoff(attempt: number, baseMs: number, capMs: number, random: Random): number {
  return random() * Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
}

/** A Retry-After header value: whole seconds, at least 1, jittered upwards by up to 50%. */
export function retryAfterSeconds(waitMs: number, random: Random): number {
  return Math.max(1, Math.ceil(jitterUp(Math.max(waitMs, 1), 0.5, random) / 1000));
}
