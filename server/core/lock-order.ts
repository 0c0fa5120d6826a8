/**
 * The one global lock order. Every transaction that writes more than one
 * table takes its locks table by table in LOCK_ORDER, and inside a table row
 * by row in ascending key order. Two transactions that follow the same order
 * can wait for each other but never in a cycle, so they cannot deadlock.
 *
 * Keys compare by code point (compareIds), which is PostgreSQL's order for
 * COLLATE "C" text in UTF-8 (byte order): JavaScript's own `<` compares
 * UTF-16 code units, which puts U+E000–U+FFFF after every character above
 * U+FFFF, the opposite of the database's order.
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
// "claims" (a worker's leases) comes before "events": whatever ends a claimed event's attempt
// first locks the claim's rows, then the events they list (server/worker/inbox.ts).
export const LOCK_ORDER = ["claim_lock", "scheduler_state", "sources", "claims", "events", "items", "item_refs", "rollup_counts", "rollup_latency"] as const;
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

/**
 * Code-point order of two well-formed strings: negative, 0 or positive, as
 * PostgreSQL orders them under COLLATE "C" (UTF-8 bytes). At the first code
 * unit that differs, a surrogate (half of a character above U+FFFF) is moved
 * above U+E000–U+FFFF, which is all that separates code-unit order from
 * code-point order.
 */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}
