import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { TEventBody } from "./event.ts";
import { comparePrecedence, itemStateOf, modelState } from "./model.ts";

const body = (type: TEventBody["type"], version: number, name = "n"): TEventBody =>
  (type === "item.deleted"
    ? { type, timestamp: "2026-11-27T10:00:00Z", data: { id: "a", version } }
    : { type, timestamp: "2026-11-27T10:00:00Z", data: { id: "a", version, name } }) as TEventBody;

describe("precedence", () => {
  it("a higher version wins whatever the type", () => {
    expect(comparePrecedence(itemStateOf("z", body("item.created", 3)), itemStateOf("a", body("item.deleted", 2)))).toBeGreaterThan(0);
  });

  it("at equal versions deleted beats updated beats created", () => {
    const created = itemStateOf("z", body("item.created", 2));
    const updated = itemStateOf("y", body("item.updated", 2));
    const deleted = itemStateOf("x", body("item.deleted", 2));
    expect(comparePrecedence(updated, created)).toBeGreaterThan(0);
    expect(comparePrecedence(deleted, updated)).toBeGreaterThan(0);
  });

  it("at equal version and type the larger event id wins, by code point", () => {
    expect(comparePrecedence(itemStateOf("b", body("item.updated", 1)), itemStateOf("a", body("item.updated", 1)))).toBeGreaterThan(0);
    expect(comparePrecedence(itemStateOf("a", body("item.updated", 1)), itemStateOf("B", body("item.updated", 1)))).toBeGreaterThan(0);
  });

  it("a tombstone keeps its version and carries no content", () => {
    const state = itemStateOf("e", body("item.deleted", 9));
    expect(state).toMatchObject({ version: 9, deleted: true, name: null, category: null, value: null, refs: [] });
  });
});

describe("modelState", () => {
  const arbEvents = fc.array(
    fc.record({
      eventId: fc.string({ minLength: 1, maxLength: 3 }),
      type: fc.constantFrom("item.created", "item.updated", "item.deleted") as fc.Arbitrary<TEventBody["type"]>,
      version: fc.integer({ min: 1, max: 4 }),
      name: fc.constantFrom("x", "y"),
    }),
    { maxLength: 15 },
  );

  it("depends only on the set of events: any order and any repetition give the same state", () => {
    fc.assert(
      fc.property(arbEvents, fc.func(fc.integer()), (specs, key) => {
        // Event ids are the identity of an event: one body per id.
        const byId = new Map(specs.map((spec) => [spec.eventId, { eventId: spec.eventId, body: body(spec.type, spec.version, spec.name) }]));
        const events = [...byId.values()];
        const reordered = [...events, ...events.slice(0, 3)].sort((a, b) => key(a.eventId) - key(b.eventId));
        expect(modelState(reordered)).toEqual(modelState(events));
      }),
    );
  });
});
