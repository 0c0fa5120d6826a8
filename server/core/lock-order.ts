/**
 * The one global lock order. Every transaction that writes more than one
 * table takes its locks table by table in LOCK_ORDER, and inside a table row
 * by row in ascending key order. Two transactions that follow the same order
 * can wait for each other but never in a cycle, so they cannot deadlock.
 *
 * lockSteps(tx) is the runtime guard: each write step announces its table
 * before touching it, and announcing a table that comes before one already
 * entered throws, so a change that breaks the order fails in every test that
 * exercises it instead of deadlocking once in production.
 */
import type { Tx } from "../db.ts";

// "claim_lock" is the advisory lock that makes claims take turns (server/worker/scheduler.ts).
// "sources" comes before "events": a pulled page's transaction compares-and-sets the cursor
// first, then inserts the page's events (server/collector/source-state.ts). No transaction
// takes sources together with claim_lock or scheduler_state, so its place after them is free.
export const LOCK_ORDER = ["claim_lock", "scheduler_state", "sources", "events", "items", "item_refs", "rollup_counts", "rollup_latency"] as const;
export type LockedTable = (typeof LOCK_ORDER)[number];

export class LockOrderViolation extends Error {
  override name = "LockOrderViolation";
}

const entered = new WeakMap<object, number>();

export interface LockSteps {
  /** Declares that the transaction is about to lock rows of `table`. */
  enter(table: LockedTable): void;
}

export function lockSteps(tx: Tx): LockSteps {
  return {
    enter(table) {
      const index = LOCK_ORDER.indexOf(table);
      const last = entered.get(tx) ?? -1;
      if (index < last) {
        throw new LockOrderViolation(`lock order violated: ${table} after ${LOCK_ORDER[last]} (order: ${LOCK_ORDER.join(" → ")})`);
      }
      entered.set(tx, index);
    },
  };
}
