/**
 * Sign-in: email and password against the argon2 hash, braked before the
 * password is even checked.
 *
 * The brakes (token buckets in the shared store, keyed by the client address
 * that server/http/client-address.ts resolved):
 * - per address: any account, refused (429) past the burst;
 * - per (account, address): guesses at one account from one address, refused
 *   past the burst;
 * - per account, from anywhere: only slowed down (each attempt past the burst
 *   waits up to ACCOUNT_SLOWDOWN_MAX_MS, then is checked), never refused, so
 *   an attacker guessing from one address cannot lock the owner out from
 *   another.
 * All of them fail open when the store is down (logged, counted in
 * tidemark_sign_in_limiter_unavailable_total): failing closed would lock
 * every admin out while Redis is down; argon2's cost still slows guessing.
 *
 * A successful sign-in also purges a batch of expired sessions (server/auth/session.ts).
 *
 * Wrong email and wrong password give the same message and take about the
 * same time (an unknown email is still checked against a dummy hash), so the
 * answer does not tell which accounts exist.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { db } from "../db.ts";
import { AppError } from "../errors.ts";
import { keys } from "../keys.ts";
import { retryAfterSeconds } from "../lib/jitter.ts";
import { log, throttledLogger } from "../log.ts";
import { metrics } from "../metrics.ts";
import { store, type TokenResult } from "../redis.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import { SIGN_IN_PURGE_BATCH, createSession, purgeExpiredSessions } from "./session.ts";

export const ZSignInInput = z.object({
  email: z.string().trim().toLowerCase().min(3).max(320),
  password: z.string().min(1).max(1_000),
});

export const INVALID_CREDENTIALS = "email or password is incorrect";

interface Policy {
  ratePerSecond: number;
  burst: number;
}

/** Attempts allowed: a burst, then a steady trickle. */
export const SIGN_IN_LIMITS = {
  perAddress: { ratePerSecond: 10 / 60, burst: 20 },
  perAccountAndAddress: { ratePerSecond: 5 / 60, burst: 10 },
  perAccount: { ratePerSecond: 5 / 60, burst: 10 },
} as const satisfies Record<string, Policy>;

/** The longest an attempt waits for the per-account slow-down: the owner is delayed, not locked out. */
export const ACCOUNT_SLOWDOWN_MAX_MS = 2_000;

const logUnavailable = throttledLogger(10_000);
let dummyHash: Promise<string> | undefined;

/** The store's decision, or null when it has none (down): the caller lets the attempt through. */
async function take(bucketKey: string, policy: Policy): Promise<TokenResult | null> {
  try {
    return await store.takeTokens({ bucketKey, ...policy, cost: 1, dailyQuota: null });
  } catch (error) {
    metrics.signInLimiterUnavailable.inc();
    logUnavailable("sign-in", () => log.warn({ module: "sign-in", err: (error as Error).message }, "sign-in rate limiter unavailable; failing open"));
    return null;
  }
}

async function refuseBeyond(bucketKey: string, policy: Policy): Promise<void> {
  const decision = await take(bucketKey, policy);
  if (decision && !decision.allowed) {
    throw new AppError("rate_limited", "too many sign-in attempts; try again later", {
      retryAfterSeconds: retryAfterSeconds(decision.retryAfterMs, Math.random),
    });
  }
}

async function slowDownBeyond(bucketKey: string, policy: Policy): Promise<void> {
  const decision = await take(bucketKey, policy);
  if (decision && !decision.allowed) {
    metrics.signInSlowed.inc();
    await sleep(Math.min(decision.retryAfterMs, ACCOUNT_SLOWDOWN_MAX_MS));
  }
}

/**
 * The brakes on guessing one account's password from one address, shared by sign-in and password change:
 * refused per (account, address), slowed per account.
 */
export async function limitPasswordGuesses(email: string, address: string): Promise<void> {
  await refuseBeyond(keys.signInByAccountAndIp(email, address), SIGN_IN_LIMITS.perAccountAndAddress);
  await slowDownBeyond(keys.signInByAccount(email), SIGN_IN_LIMITS.perAccount);
}

export async function signIn(input: unknown, ip: string): Promise<{ token: string; expiresAt: Date; userId: number }> {
  const parsed = ZSignInInput.safeParse(input);
  if (!parsed.success) throw new AppError("unauthorized", INVALID_CREDENTIALS);
  const { email, password } = parsed.data;

  await refuseBeyond(keys.signInByIp(ip), SIGN_IN_LIMITS.perAddress);
  await limitPasswordGuesses(email, ip);

  const user = await db.user.findUnique({ where: { email }, select: { id: true, passwordHash: true } });
  const hash = user?.passwordHash ?? (await (dummyHash ??= hashPassword("not a real password, never matches")));
  const ok = await verifyPassword(hash, password);
  if (!user || !ok) throw new AppError("unauthorized", INVALID_CREDENTIALS);
  const session = await createSession(user.id);
  // Housekeeping, not the sign-in's business: a failure is logged, never answered.
  await purgeExpiredSessions(SIGN_IN_PURGE_BATCH).catch((error: Error) =>
    logUnavailable("purge", () => log.warn({ module: "sign-in", err: error.message }, "could not purge expired sessions")),
  );
  return { ...session, userId: user.id };
}
