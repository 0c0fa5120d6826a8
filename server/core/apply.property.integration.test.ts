/**
 * The specification test: for random item histories delivered in any order,
 * with any duplication and any split into batches, applyBatch on the real
 * database ends in exactly the state of the model (server/core/model.ts).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pool, transaction } from "../db.ts";
import { asStored, readItems, type TestEvent } from "../../test/events.ts";
import { applyBatch } from "./apply.ts";
import { modelState } from "./model.ts";

// Item ids from the whole alphabet: a space, U+E000 and a character above U+FFFF, whose code-unit and code-point orders differ (refs are sorted).
const ITEMS = ["user 42", "\ue000", "🐳"];
const TYPES = ["item.created", "item.updated", "item.deleted"] as const;

/** One event of some item's history; versions collide often so the tie-breaks are exercised. */
const arbEvent = fc.record({
  itemId: fc.constantFrom(...ITEMS),
  version: fc.integer({ min: 1, max: 5 }),
  type: fc.constantFrom(...TYPES),
  name: fc.constantFrom("x", "y"),
  refs: fc.subarray(ITEMS),
});

/** Distinct event ids whose order is independent of generation order. */
const arbHistory = fc
  .uniqueArray(fc.string({ unit: fc.constantFrom("p", "q", "r", "s"), minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 12 })
  .chain((ids) => fc.tuple(fc.constant(ids), fc.array(arbEvent, { minLength: ids.length, maxLength: ids.length })))
  .map(([ids, specs]): TestEvent[] =>
    specs.map((spec, i) => ({
      eventId: ids[i] as string,
      body: (spec.type === "item.deleted"
        ? { type: spec.type, timestamp: "2026-11-27T10:00:00Z", data: { id: spec.itemId, version: spec.version } }
        : {
            type: spec.type,
            timestamp: "2026-11-27T10:00:00Z",
            data: { id: spec.itemId, version: spec.version, name: spec.name, refs: spec.refs },
          }) as TestEvent["body"],
    })),
  );

/** A delivery: every event at least once, some up to three times, shuffled, cut into batches. */
const arbDelivery = arbHistory.chain((events) =>
  fc
    .tuple(
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: events.length, maxLength: events.length }),
      fc.infiniteStream(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })),
      fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 40 }),
    )
    .map(([copies, randoms, cuts]) => {
      const deliveries = events.flatMap((event, i) => Array.from({ length: copies[i] as number }, () => event));
      const it = randoms[Symbol.iterator]();
      for (let i = deliveries.length - 1; i > 0; i--) {
        const j = Math.floor((it.next().value as number) * (i + 1));
        [deliveries[i], deliveries[j]] = [deliveries[j] as TestEvent, deliveries[i] as TestEvent];
      }
      const batches: TestEvent[][] = [];
      let start = 0;
      for (const size of cuts) {
        if (start >= deliveries.length) break;
        batches.push(deliveries.slice(start, start + size));
        start += size;
      }
      if (start < deliveries.length) batches.push(deliveries.slice(start));
      return { events, batches };
    }),
);

async function freshTenant(): Promise<number> {
  const { rows } = await pool.query<{ id: number }>(
    "INSERT INTO tenants (slug, name, secret) VALUES ('p-' || md5(random()::text), 'property', 'whsec_x') RETURNING id",
  );
  return (rows[0] as { id: number }).id;
}

describe("applyBatch against the model", () => {
  it("ends in the model's state for any order, duplication and batching (500 runs)", async () => {
    let inboxId = 0;
    await fc.assert(
      fc.asyncProperty(arbDelivery, async ({ events, batches }) => {
        const tenantId = await freshTenant();
        for (const batch of batches) {
          await transaction((tx) =>
            applyBatch(
              tx,
              batch.map((e) => ({ id: ++inboxId, tenantId, eventId: e.eventId, payload: e.body })),
            ),
          );
        }
        const expected = modelState(events);
        const stored = await readItems(tenantId);
        expect(stored).toEqual(asStored(expected));
        // Tombstones hold: an item whose highest event is a delete is deleted, whatever came after it.
        for (const [itemId, state] of expected) if (state.deleted) expect(stored.get(itemId)?.deleted).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("gives every event exactly one outcome, and repeats are never applied twice", async () => {
    let inboxId = 0;
    await fc.assert(
      fc.asyncProperty(arbDelivery, async ({ batches }) => {
        const tenantId = await freshTenant();
        const appliedIds = new Map<string, number>();
        for (const batch of batches) {
          const inbox = batch.map((e) => ({ id: ++inboxId, tenantId, eventId: e.eventId, payload: e.body }));
          const results = await transaction((tx) => applyBatch(tx, inbox));
          expect(results.map((r) => r.id)).toEqual(inbox.map((e) => e.id));
          results.forEach((result, i) => {
            if (result.outcome === "applied") {
              const eventId = (inbox[i] as { eventId: string }).eventId;
              appliedIds.set(eventId, (appliedIds.get(eventId) ?? 0) + 1);
            }
          });
        }
        for (const count of appliedIds.values()) expect(count).toBe(1);
      }),
      { numRuns: 200 },
    );
  });
});
