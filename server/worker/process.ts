/**
 * Processing one claim: apply its events exactly once, or give them back.
 *
 * applyClaim runs one transaction: lock the claim's own rows and the events
 * they still list (a lease that expired and was reaped has no rows left, so
 * its events are skipped, never applied twice), apply them (server/core),
 * then, in one statement, mark each with its outcome, end the claim's hold
 * on them and add them to the rollups. Outcome and item state commit together or
 * not at all.
 *
 * processClaim keeps the claim's lease by heartbeat (./lease.ts) for as long
 * as it runs, so a batch slower than the lease is not taken over.
 *
 * processClaim adds the failure policy:
 * - transient errors (deadlock, serialization, lost connection) retry the
 *   whole batch with exponential backoff and full jitter, then give the
 *   events back (pending, due after a backoff);
 * - any other error means some event in the batch is poison: each event is
 *   then processed alone, so the others still apply, and the failing one is
 *   retried after a backoff until WORKER_MAX_ATTEMPTS, then becomes `dead`
 *   with its error kept (replayable).
 *
 * Thin events are resolved first, before any transaction (./thin.ts): each
 * is applied as the full state fetched for it, and one whose fetch failed is
 * failed alone on the same retry path, so the rest of the batch applies.
 */
import { applyBatch } from "../core/apply.ts";
import { recordRollups } from "../stats/rollups.ts";
import { transaction } from "../db.ts";
import { fullJitterBackoff, type Random } from "../lib/jitter.ts";
import { log } from "../log.ts";
import { metrics } from "../metrics.ts";
import { failEvent, giveBack as giveBackLease, lockOwnedEvents, markDone } from "./inbox.ts";
import { keepLease } from "./lease.ts";
import type { Claim } from "./scheduler.ts";
import { resolveClaim } from "./thin.ts";
import { isTransient, sqlState, transientErrorText } from "./transient.ts";
import type { Resolution } from "../thin/resolve.ts";

export interface FailurePolicy {
  maxAttempts: number;
  /** In-process retries of a batch that hit a transient error. */
  transientRetries: number;
  random: Random;
}

const TRANSIENT_BASE_MS = 50;
const TRANSIENT_CAP_MS = 2_000;
const RETRY_BASE_MS = 1_000;
const RETRY_CAP_MS = 5 * 60_000;

const ASYNC_COMMIT = { asyncCommit: true } as const;

/**
 * Applies the claim's events that are still leased to it; returns how many it
 * finished. `resolved` holds, by inbox row id, the full body of each thin
 * event (see ./thin.ts), applied in place of its stored payload.
 */
export async function applyClaim(claim: Claim, resolved: ReadonlyMap<number, unknown> = new Map()): Promise<number> {
  // Committed without waiting for the WAL flush: a server crash can lose only whole batches (items,
  // outcomes, rollups and the claim's release together), whose events are then still pending and are
  // applied again. Nothing outside the database was told they were applied.
  return transaction(async (tx) => {
    const locked = await lockOwnedEvents(tx, claim);
    if (locked.length === 0) return 0;
    const owned = resolved.size === 0 ? locked : locked.map((event) => (resolved.has(event.id) ? { ...event, payload: resolved.get(event.id) } : event));
    const outcomes = await markDone(tx, claim, await applyBatch(tx, owned));
    let finished = 0;
    for (const [outcome, count] of outcomes) {
      metrics.eventsProcessed.inc({ outcome }, count);
      finished += count;
    }
    return finished;
  }, ASYNC_COMMIT);
}

/** Ends the claim and returns its events to the queue, due after `delayMs`; no attempt is spent. */
export async function giveBack(claim: Pick<Claim, "claimId" | "eventIds">, error: string, delayMs: number): Promise<void> {
  await transaction((tx) => giveBackLease(tx, claim, error, delayMs));
}

/** Records a non-transient failure of one event: retry later, or dead after the last attempt. */
async function failOne(claim: Claim, eventId: number, error: unknown, policy: FailurePolicy): Promise<void> {
  const message = error instanceof Error ? error.message : String(error);
  await transaction(async (tx) => {
    const failed = await failEvent(tx, claim, eventId, message, policy.maxAttempts, {
      random: policy.random(),
      baseMs: RETRY_BASE_MS,
      capMs: RETRY_CAP_MS,
    });
    if (!failed || failed.dead.length === 0) return;
    await recordRollups(tx, failed.dead);
    metrics.eventsProcessed.inc({ outcome: "dead" });
    log.warn({ module: "worker", eventId, attempts: failed.attempts, err: message }, "event is dead after its last attempt");
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Processes a claim under the failure policy, keeping its lease meanwhile; never throws for a database error. */
export async function processClaim(claim: Claim, policy: FailurePolicy): Promise<void> {
  const heartbeat = keepLease(claim);
  try {
    await processUnderLease(claim, policy);
  } finally {
    await heartbeat.stop();
  }
}

async function processUnderLease(claim: Claim, policy: FailurePolicy): Promise<void> {
  let resolution: Resolution;
  try {
    resolution = await resolveClaim(claim);
  } catch (error) {
    // Only a database error gets here (a failed fetch fails its events instead): like a transient one, give the batch back.
    await giveBack(claim, (error as Error).message, fullJitterBackoff(0, RETRY_BASE_MS, RETRY_CAP_MS, policy.random)).catch((giveBackError: Error) =>
      log.warn({ module: "worker", err: giveBackError.message }, "could not give a batch back; its lease will expire"),
    );
    return;
  }
  for (const [eventId, error] of resolution.failures) {
    await failOne(claim, eventId, error, policy).catch((failError: Error) =>
      log.warn({ module: "worker", err: failError.message }, "could not record an event's failure; its lease will expire"),
    );
  }
  const rest = resolution.failures.size === 0 ? claim : { ...claim, eventIds: claim.eventIds.filter((id) => !resolution.failures.has(id)) };
  if (rest.eventIds.length > 0) await processResolved(rest, resolution.payloads, policy);
}

async function processResolved(claim: Claim, resolved: ReadonlyMap<number, unknown>, policy: FailurePolicy): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const end = metrics.batchSeconds.startTimer();
      await applyClaim(claim, resolved);
      end();
      return;
    } catch (error) {
      if (isTransient(error)) {
        metrics.transientRetries.inc({ sqlstate: sqlState(error) ?? "connection" });
        if (attempt < policy.transientRetries) {
          await sleep(fullJitterBackoff(attempt, TRANSIENT_BASE_MS, TRANSIENT_CAP_MS, policy.random));
          continue;
        }
        const delay = fullJitterBackoff(attempt, RETRY_BASE_MS, RETRY_CAP_MS, policy.random);
        await giveBack(claim, transientErrorText(error), delay).catch((giveBackError: Error) =>
          // The lease will expire and the reaper will return the events; nothing is lost.
          log.warn({ module: "worker", err: giveBackError.message }, "could not give a batch back; its lease will expire"),
        );
        return;
      }
      if (claim.eventIds.length > 1) {
        log.warn(
          { module: "worker", tenantIds: claim.tenantIds, size: claim.eventIds.length, err: (error as Error).message },
          "batch failed; isolating its events",
        );
        for (const id of claim.eventIds) await processResolved({ ...claim, eventIds: [id] }, resolved, policy);
        return;
      }
      await failOne(claim, claim.eventIds[0] as number, error, policy).catch((failError: Error) =>
        log.warn({ module: "worker", err: failError.message }, "could not record an event's failure; its lease will expire"),
      );
      return;
    }
  }
}
