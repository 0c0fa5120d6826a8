/**
 * Sign-in: email and password against the argon2 hash, rate limited per IP
 * and per account before the password is even checked.
 *
 * Wrong email and wrong password give the same message and take about the
 * same time (an unknown email is still checked against a dummy hash), so the
 * answer does not tell which accounts exist.
 */
import { z } from "zod";
import { db } from "../db.ts";
import { AppError } from "../errors.ts";
import { keys } from "../keys.ts";
import { retryAfterSeconds } from "../lib/jitter.ts";
import { log } from "../log.ts";
import { store } from "../redis.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import { createSession } from "./session.ts";

export const ZSignInInput = z.object({
  email: z.string().trim().toLowerCase().min(3).max(320),
  password: z.string().min(1).max(1_000),
});

export const INVALID_CREDENTIALS = "email or password is incorrect";

/** Attempts allowed: a burst, then a steady trickle. */
const PER_IP = { ratePerSecond: 10 / 60, burst: 20 };
const PER_ACCOUNT = { ratePerSecond: 5 / 60, burst: 10 };

let dummyHash: Promise<string> | undefined;

async function limit(bucketKey: string, policy: { ratePerSecond: number; burst: number }): Promise<void> {
  let decision;
  try {
    decision = await store.takeTokens({ bucketKey, ...policy, cost: 1, dailyQuota: null });
  } catch (error) {
    // Unlike ingestion, failing closed here would lock every admin out while Redis is down;
    // failing open only removes the brake on guessing, which argon2's cost still slows.
    log.warn({ module: "sign-in", err: (error as Error).message }, "sign-in rate limiter unavailable");
    return;
  }
  if (!decision.allowed) {
    throw new AppError("rate_limited", "too many sign-in attempts; try again later", {
      retryAfterSeconds: retryAfterSeconds(decision.retryAfterMs, Math.random),
    });
  }
}

/**
 * The per-account brake on password guesses, shared by sign-in and password
 * change: a guess costs the account's bucket wherever it is made.
 */
export function limitPasswordGuesses(email: string): Promise<void> {
  return limit(keys.signInByAccount(email), PER_ACCOUNT);
}

export async function signIn(input: unknown, ip: string): Promise<{ token: string; expiresAt: Date; userId: number }> {
  const parsed = ZSignInInput.safeParse(input);
  if (!parsed.success) throw new AppError("unauthorized", INVALID_CREDENTIALS);
  const { email, password } = parsed.data;

  await limit(keys.signInByIp(ip), PER_IP);
  await limitPasswordGuesses(email);

  const user = await db.user.findUnique({ where: { email }, select: { id: true, passwordHash: true } });
  const hash = user?.passwordHash ?? (await (dummyHash ??= hashPassword("not a real password, never matches")));
  const ok = await verifyPassword(hash, password);
  if (!user || !ok) throw new AppError("unauthorized", INVALID_CREDENTIALS);
  const session = await createSession(user.id);
  return { ...session, userId: user.id };
}
