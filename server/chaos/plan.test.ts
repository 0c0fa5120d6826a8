/**
 * The chaos plan is a pure function of the seed: the same seed replays the
 * same schedule (digest and all), another seed gives another, and the plan
 * holds what the run promises (every event delivered, about 30% twice, no
 * batch with one id twice, faults of every kind inside the window).
 */
import { describe, expect, it } from "vitest";
import { DUPLICATE_SHARE, makePlan, QUICK } from "./plan.ts";

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
