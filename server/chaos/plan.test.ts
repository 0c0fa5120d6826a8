/**
 * The chaos plan is a pure function of the seed: the same seed replays the
 * same schedule (digest and all), another seed gives another, and the plan
 * holds what the run promises (every event delivered, about 30% twice, no
 * batch with one id twice, faults of every kind inside the window, a
 * quarter of the changes sent thin and resolved as the item API answers).
 */
import { describe, expect, it } from "vitest";
import { ZEventBody } from "../core/event.ts";
import { itemStateOf, modelState, type ItemState } from "../core/model.ts";
import { resolvedEvents } from "./item-api.ts";
import { DUPLICATE_SHARE, makePlan, mayBeThin, QUICK, THIN_SHARE, wireBody } from "./plan.ts";

describe("chaos plan", () => {
  it("the same seed gives the same schedule, another seed another", () => {
    const a = makePlan(1, QUICK);
    expect(makePlan(1, QUICK)).toEqual(a);
    expect(makePlan(2, QUICK).digest).not.toBe(a.digest);
  });

  it("delivers every event, about 30% of them twice, never one id twice in a batch", () => {
    const plan = makePlan(5, QUICK);
    const sent = new Map<string, number>();
    for (const delivery of plan.deliveries) {
      const events = delivery.channel === "single" ? [delivery.event] : delivery.events;
      if (delivery.channel === "batch") expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
      for (const event of events) {
        expect(event.tenant).toBe(delivery.tenant);
        sent.set(event.id, (sent.get(event.id) ?? 0) + 1);
      }
    }
    const planned = plan.events.flat();
    expect(sent.size).toBe(planned.length);
    const twice = [...sent.values()].filter((count) => count === 2).length / planned.length;
    expect(twice).toBeGreaterThan(DUPLICATE_SHARE - 0.03);
    expect(twice).toBeLessThan(DUPLICATE_SHARE + 0.03);
    expect(Math.max(...sent.values())).toBe(2);
  });

  it("schedules every kind of fault inside the window, after traffic starts", () => {
    const plan = makePlan(9, QUICK);
    expect(new Set(plan.faults.map((fault) => fault.kind))).toEqual(new Set(["kill-worker", "kill-app", "restart-redis", "cut-database"]));
    for (const fault of plan.faults) {
      expect(fault.atMs).toBeGreaterThan(0);
      expect(fault.atMs + fault.downMs).toBeLessThan(QUICK.windowMs);
    }
    const times = plan.deliveries.map((delivery) => delivery.atMs);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });
});

describe("chaos thin events", () => {
  it("sends about THIN_SHARE of the small items' created and updated events thin, never a delete or a hot item, the same way in every delivery", () => {
    const plan = makePlan(5, QUICK);
    const events = plan.events.flat();
    const changes = events.filter(mayBeThin);
    const thin = events.filter((event) => event.thin);
    expect(thin.every((event) => event.body.type !== "item.deleted" && !event.body.data.id.startsWith("hot-"))).toBe(true);
    expect(thin.length / changes.length).toBeGreaterThan(THIN_SHARE - 0.03);
    expect(thin.length / changes.length).toBeLessThan(THIN_SHARE + 0.03);
    for (const event of thin) expect(ZEventBody.parse(wireBody(event))).toEqual({ ...wireBody(event), thin: true });
    for (const delivery of plan.deliveries) {
      for (const event of delivery.channel === "single" ? [delivery.event] : delivery.events) {
        expect(event.thin).toBe(events.find((planned) => planned.id === event.id)?.thin);
      }
    }
  });

  it("resolves each thin event to its item's final state under its own id and type, or a delete at its version when the item ends deleted", () => {
    const events = makePlan(5, QUICK).events[0] ?? [];
    const finals = modelState(events.map((event) => ({ eventId: event.id, body: event.body })));
    const resolved = resolvedEvents(events);
    let checked = 0;
    events.forEach((event, index) => {
      const { eventId, body } = resolved[index] as (typeof resolved)[number];
      expect(eventId).toBe(event.id);
      if (!event.thin) return expect(body).toEqual(event.body);
      const final = finals.get(event.body.data.id) as ItemState;
      checked++;
      if (final.deleted)
        expect(body).toEqual({ type: "item.deleted", timestamp: event.body.timestamp, data: { id: final.itemId, version: event.body.data.version } });
      else
        expect({ type: body.type, version: body.data.version, hash: itemStateOf(eventId, body).contentHash }).toEqual({
          type: event.body.type,
          version: final.version,
          hash: final.contentHash,
        });
    });
    expect(checked).toBeGreaterThan(100);
  });
});
