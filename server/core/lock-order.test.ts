import { describe, expect, it } from "vitest";
import type { Tx } from "../db.ts";
import { LOCK_ORDER, LockOrderViolation, compareIds, lockSteps } from "./lock-order.ts";

const newTx = () => ({ isTransaction: true, query: async () => ({ rows: [] }) }) as unknown as Tx;

describe("lock order guard", () => {
  it("lets a transaction go forward through the tables, repeating one as often as it likes", () => {
    const locks = lockSteps(newTx());
    expect(() => {
      locks.enter("events");
      locks.enter("items");
      locks.enter("items");
      locks.enter("rollup_counts");
    }).not.toThrow();
  });

  it("refuses a table that comes before one already entered", () => {
    const tx = newTx();
    lockSteps(tx).enter("items");
    expect(() => lockSteps(tx).enter("events")).toThrow(LockOrderViolation);
  });

  it("starts afresh for every transaction", () => {
    lockSteps(newTx()).enter("rollup_latency");
    expect(() => lockSteps(newTx()).enter("scheduler_state")).not.toThrow();
  });

  it("lists sources before events, and items before item refs before rollups, as docs/design.md requires", () => {
    const at = (table: (typeof LOCK_ORDER)[number]) => LOCK_ORDER.indexOf(table);
    expect(at("sources")).toBeLessThan(at("events"));
    expect(at("items")).toBeLessThan(at("item_refs"));
    expect(at("item_refs")).toBeLessThan(at("rollup_counts"));
    expect(at("rollup_counts")).toBeLessThan(at("rollup_latency"));
  });
});

describe("compareIds", () => {
  it("orders by code point: U+FFFF before a character above it, where UTF-16 code units say the opposite", () => {
    expect("\uffff" < "🐳").toBe(false);
    expect(compareIds("\uffff", "🐳")).toBeLessThan(0);
    expect(compareIds("🐳", "\ue000")).toBeGreaterThan(0);
    expect(compareIds("a", "ab")).toBeLessThan(0);
    expect(compareIds("user 42", "user 42")).toBe(0);
  });
});
