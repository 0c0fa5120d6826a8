/**
 * The simulated feed: a fixed seed replays exactly, pages cover the feed with
 * no gap and no overlap whatever the page size, and the traffic has what
 * real traffic has (whales and small items, duplicates across pages,
 * versions out of order across pages, deletes before creates), every event
 * valid by the batch contract. The item API agrees with the model.
 */
import { describe, expect, it } from "vitest";
import { modelState } from "../core/model.ts";
import { parseBatchEvent } from "../ingest/envelope.ts";
import { available, BLOCK_LENGTH, decodeCursor, encodeCursor, eventsBetween, feedPage, itemState, parseFeedSpec, toBody, type FeedSpec } from "./feed.ts";

const fixed: FeedSpec = { seed: 7, kind: "fixed", total: 5_000 };
const all = eventsBetween(fixed, 0, fixed.total);

function pagesOf(spec: FeedSpec, limit: number, nowMs = 0) {
  const pages = [];
  let cursor: string | null = null;
  for (;;) {
    const result = feedPage(spec, cursor, limit, nowMs);
    if (!result) throw new Error("cursor refused");
    pages.push(result.page);
    if (!result.page.has_more) return pages;
    cursor = result.page.next_cursor;
  }
}

describe("simulated feed", () => {
  it("replays exactly from a fixed seed, and another seed gives another feed", () => {
    expect(JSON.stringify(eventsBetween(fixed, 0, fixed.total))).toBe(JSON.stringify(all));
    expect(JSON.stringify(eventsBetween({ ...fixed, seed: 8 }, 0, 500))).not.toBe(JSON.stringify(all.slice(0, 500)));
    expect(all).toHaveLength(fixed.total);
  });

  it("any range is the same slice of the feed: a page does not depend on where the previous one ended", () => {
    for (const [from, to] of [
      [0, 1],
      [BLOCK_LENGTH - 3, BLOCK_LENGTH + 3],
      [1_234, 3_210],
    ] as const) {
      expect(eventsBetween(fixed, from, to)).toEqual(all.slice(from, to));
    }
  });

  it("pages of any size cover the feed exactly, and the last says has_more false", () => {
    for (const limit of [7, 37, 100, 1_000]) {
      const pages = pagesOf(fixed, limit);
      expect(pages.flatMap((page) => page.events)).toEqual(all);
      expect(pages.at(-1)?.has_more).toBe(false);
      expect(pages.at(-1)?.next_cursor).toBe(encodeCursor(fixed.total));
    }
    // At the end, a page is empty and keeps the cursor.
    expect(feedPage(fixed, encodeCursor(fixed.total), 50, 0)?.page).toEqual({ events: [], next_cursor: encodeCursor(fixed.total), has_more: false });
  });

  it("refuses a cursor it did not issue", () => {
    expect(feedPage(fixed, "not-a-cursor", 10, 0)).toBeNull();
    expect(decodeCursor(encodeCursor(123_456))).toBe(123_456);
  });

  it("has a few whales and many small items", () => {
    const perItem = new Map<string, number>();
    for (const event of all) perItem.set(event.data.id, (perItem.get(event.data.id) ?? 0) + 1);
    const whales = [...perItem].filter(([, n]) => n > 200);
    expect(whales.map(([id]) => id).sort()).toEqual(["whale-0", "whale-1", "whale-2"]);
    expect(perItem.size).toBeGreaterThan(500);
    expect([...perItem.values()].filter((n) => n <= 7).length).toBeGreaterThan(500);
  });

  it("repeats events across pages (same id, same payload), moves versions out of order across pages, and sends deletes before creates", () => {
    const pageOf = (position: number) => Math.floor(position / 100);
    const firstAt = new Map<string, number>();
    let repeatedAcrossPages = 0;
    all.forEach((event, position) => {
      const first = firstAt.get(event.id);
      if (first === undefined) firstAt.set(event.id, position);
      else {
        expect(JSON.stringify(all[first])).toBe(JSON.stringify(event));
        if (pageOf(first) !== pageOf(position)) repeatedAcrossPages++;
      }
    });
    expect(repeatedAcrossPages).toBeGreaterThan(10);

    const seen = new Map<string, { version: number; position: number; type: string }[]>();
    all.forEach((event, position) =>
      seen.set(event.data.id, [...(seen.get(event.data.id) ?? []), { version: event.data.version, position, type: event.type }]),
    );
    let outOfOrderAcrossPages = 0;
    let deleteBeforeCreate = 0;
    for (const history of seen.values()) {
      for (let i = 1; i < history.length; i++) {
        const [a, b] = [history[i - 1], history[i]] as [(typeof history)[0], (typeof history)[0]];
        if (b.version < a.version && pageOf(a.position) !== pageOf(b.position)) outOfOrderAcrossPages++;
      }
      const deleted = history.find((entry) => entry.type === "item.deleted");
      const created = history.find((entry) => entry.type === "item.created");
      if (deleted && created && deleted.position < created.position) deleteBeforeCreate++;
    }
    expect(outOfOrderAcrossPages).toBeGreaterThan(10);
    expect(deleteBeforeCreate).toBeGreaterThan(5);
  });

  it("every event is valid by the batch contract", () => {
    for (const event of all) expect(() => parseBatchEvent(event)).not.toThrow();
  });

  it("a live feed makes its rate available per second, and a new reader starts a minute back", () => {
    const live: FeedSpec = { seed: 3, kind: "live", ratePerSecond: 10 };
    const now = Date.UTC(2026, 11, 2, 12);
    expect(available(live, now + 1_000) - available(live, now)).toBe(10);
    const first = feedPage(live, null, 1_000, now);
    expect(first?.page.events).toHaveLength(60 * 10);
    expect(first?.page.has_more).toBe(false);
    const caughtUp = feedPage(live, first?.page.next_cursor ?? null, 100, now);
    expect(caughtUp?.page).toEqual({ events: [], next_cursor: first?.page.next_cursor, has_more: false });
    expect(feedPage(live, first?.page.next_cursor ?? null, 100, now + 2_000)?.page.events).toHaveLength(20);
  });

  it("the item API answers each item's state over what was sent so far, and 404 (null) for deleted and unknown items", () => {
    const model = modelState(all.map((event) => ({ eventId: event.id, body: toBody(event) })));
    let checked = 0;
    let deleted = 0;
    for (const [id, state] of model) {
      if (checked++ % 7 !== 0 && !id.startsWith("whale-")) continue;
      const answer = itemState(fixed, id, 0);
      if (state.deleted) {
        deleted++;
        expect(answer).toBeNull();
      } else expect(answer).toEqual({ id, version: state.version, name: state.name, category: state.category, value: state.value, refs: state.refs });
    }
    expect(deleted).toBeGreaterThan(0);
    expect(itemState(fixed, "no-such-item", 0)).toBeNull();
    expect(itemState(fixed, "item-999999-0", 0)).toBeNull();
  });

  it("names feeds in URLs: demo, live and fixed, with bounds", () => {
    expect(parseFeedSpec("demo")).toMatchObject({ kind: "live" });
    expect(parseFeedSpec("seed-7-rate-20")).toEqual({ seed: 7, kind: "live", ratePerSecond: 20 });
    expect(parseFeedSpec("seed-7-total-5000")).toEqual(fixed);
    for (const bad of ["seed-7-rate-0", "seed-7-rate-5000", "seed-x-total-1", "seed-7-total-99999999", ""]) expect(parseFeedSpec(bad)).toBeNull();
  });
});
