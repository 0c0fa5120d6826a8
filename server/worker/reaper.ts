/**
 * Returns the events of expired leases: a worker that died (or stalled past
 * its lease) mid-batch committed nothing, so its events go back to pending,
 * or become dead once they have used their last attempt (an event that
 * crashes every worker that takes it must not crash them forever). Dead
 * events are counted in the rollups in the same transaction. The statement
 * and its rules are the inbox's (inbox.ts).
 */
import { transaction } from "../db.ts";
import { metrics } from "../metrics.ts";
import { recordRollups } from "../stats/rollups.ts";
import { reapExpired } from "./inbox.ts";

const REAP_LIMIT = 5_000;

/** Reaps one round of expired leases; returns how many events it returned or buried. */
export async function reapExpiredLeases(maxAttempts: number): Promise<number> {
  return transaction(async (tx) => {
    const { reaped, dead } = await reapExpired(tx, maxAttempts, REAP_LIMIT);
    await recordRollups(tx, dead);
    if (dead.length > 0) metrics.eventsProcessed.inc({ outcome: "dead" }, dead.length);
    return reaped;
  });
}
