/**
 * Returns the events of expired leases: a worker that died (or stalled past
 * its lease without a heartbeat) mid-batch committed nothing, so deleting
 * its claim rows puts its events back in the queue, due at once. An expired
 * lease spends no attempt (the event did not fail), so no event becomes dead
 * this way. The statement and its rules are the inbox's (inbox.ts).
 */
import { transaction } from "../db.ts";
import { reapExpired } from "./inbox.ts";

const REAP_LIMIT = 5_000;

/** Reaps one round of expired leases (at most REAP_LIMIT claim rows); returns how many events it returned. */
export async function reapExpiredLeases(): Promise<number> {
  return transaction((tx) => reapExpired(tx, REAP_LIMIT));
}
