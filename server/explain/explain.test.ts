/** The wording of explanations: each reason follows from one figure of the scheduler's state, in the claim's order of checks. */
import { describe, expect, it } from "vitest";
import { explainEvent, formatInstant, formatRelative } from "./explain.ts";
import type { TenantSchedulerState, WaitingEventState } from "./scheduler-state.ts";

const now = new Date("2026-12-03T10:00:00.000Z");
const settings = { maxAttempts: 5 };

function pending(overrides: Partial<WaitingEventState> = {}): WaitingEventState {
  return {
    eventId: "e-1",
    itemId: "item-1",
    status: "pending",
    attempt: 0,
    availableAt: now,
    due: true,
    lease: null,
    lastError: null,
    thin: false,
    receivedAt: now,
    aheadInTenant: 0,
    ...overrides,
  };
}

function tenant(overrides: Partial<TenantSchedulerState> = {}): TenantSchedulerState {
  return {
    tenantId: 1,
    maxConcurrency: 2,
    weight: 1,
    batchesInFlight: 0,
    tenantsAheadInRing: 0,
    refusedAtEdgeRecently: 0,
    sourceWaitingFor: null,
    sourceNextFetchAt: null,
    hasItemApi: false,
    now,
    ...overrides,
  };
}

const codes = (event: WaitingEventState, state: TenantSchedulerState) => explainEvent(event, state, settings).reasons.map((r) => r.code);
const first = (event: WaitingEventState, state: TenantSchedulerState) => explainEvent(event, state, settings).reasons[0]?.text;

describe("explainEvent", () => {
  it("a pending event behind its tenant's backlog says how many are ahead", () => {
    expect(first(pending({ aheadInTenant: 12_400 }), tenant())).toBe("behind 12,400 older events of this tenant: each tenant's events are taken oldest first");
    expect(codes(pending({ aheadInTenant: 1 }), tenant())).toEqual(["behind-tenant-backlog"]);
  });

  it("the concurrency cap comes before the backlog, as in the claim", () => {
    const state = tenant({ batchesInFlight: 2, maxConcurrency: 2 });
    expect(first(pending({ aheadInTenant: 50 }), state)).toBe(
      "tenant at its max concurrency (2 batches in flight, max 2): it gets no new claim until one finishes",
    );
    // One below the cap is not at it.
    expect(codes(pending({ aheadInTenant: 50 }), tenant({ batchesInFlight: 1 }))).toEqual(["behind-tenant-backlog"]);
  });

  it("a retry's backoff comes first: transient errors and failures are told apart, with the attempt and the next try", () => {
    const later = new Date(now.getTime() + 12_000);
    const transient = pending({ due: false, availableAt: later, attempt: 2, lastError: "transient error (40001): could not serialize access" });
    expect(first(transient, tenant({ batchesInFlight: 5 }))).toBe(
      "retrying after a transient error (next try at 10:00:12 UTC, in 12 s); transient errors spend no attempt (2 of 5 used) and never make it dead: transient error (40001): could not serialize access",
    );
    const failed = pending({ due: false, availableAt: later, attempt: 4, lastError: "poisoned" });
    expect(first(failed, tenant())).toBe(
      "retrying after an error, attempt 4 of 5 (next try at 10:00:12 UTC, in 12 s; 1 attempt left before it is dead): poisoned",
    );
    expect(first(pending({ due: false, availableAt: later, attempt: 5, lastError: "x" }), tenant())).toContain("its next failure makes it dead");
    expect(codes(pending({ due: false, availableAt: later }), tenant())).toEqual(["scheduled-later"]);
  });

  it("other tenants ahead in the ring, and otherwise next in line", () => {
    expect(first(pending(), tenant({ tenantsAheadInRing: 3 }))).toBe(
      "waiting for its tenant's turn: 3 other tenants with work are ahead in the fair-share ring",
    );
    expect(codes(pending(), tenant())).toEqual(["next-in-line"]);
  });

  it("in-flight events name the lease's worker and its end; an expired lease says the reaper will return it", () => {
    const lease = { claimId: "host-a:42:abcdef", worker: "host-a:42", until: new Date(now.getTime() + 30_000), expired: false };
    const leased = pending({ status: "processing", lease, attempt: 1 });
    expect(first(leased, tenant())).toBe("being applied: lease held by worker host-a:42 until 10:00:30 UTC, in 30 s (attempt 1 of 5)");
    expect(first({ ...leased, thin: true }, tenant())).toBe(
      "thin event waiting for its fetch from the tenant's item API: lease held by worker host-a:42 until 10:00:30 UTC, in 30 s (attempt 1 of 5)",
    );
    const expired = { ...leased, lease: { ...lease, until: new Date(now.getTime() - 5_000), expired: true } };
    expect(codes(expired, tenant())).toEqual(["lease-expired"]);
    expect(first(expired, tenant())).toContain("expired at 09:59:55 UTC, 5 s ago");
  });

  it("notes: a thin event's fetch, refusals at the edge, a waiting source", () => {
    expect(codes(pending({ thin: true }), tenant({ hasItemApi: true }))).toEqual(["next-in-line", "thin-fetch-next"]);
    expect(codes(pending({ thin: true }), tenant())).toEqual(["next-in-line", "thin-no-item-api"]);
    const edge = explainEvent(pending(), tenant({ refusedAtEdgeRecently: 37 }), settings).reasons[1]?.text;
    expect(edge).toMatch(/^tenant rate-limited at the edge: 37 deliveries refused/);
    const source = tenant({ sourceWaitingFor: "rate", sourceNextFetchAt: new Date(now.getTime() + 3_000) });
    expect(explainEvent(pending(), source, settings).reasons[1]?.text).toBe(
      "the tenant's source waits for its rate limit until 10:00:03 UTC, in 3 s before pulling newer events",
    );
  });
});

describe("time wording", () => {
  it("relative spans and instants on the database's clock", () => {
    expect(formatRelative(new Date(now.getTime() + 400), now)).toBe("in 1 s");
    expect(formatRelative(new Date(now.getTime() + 150_000), now)).toBe("in 3 min");
    expect(formatRelative(new Date(now.getTime() - 7_200_000), now)).toBe("2 h ago");
    expect(formatInstant(new Date("2026-12-04T01:02:03Z"), now)).toBe("2026-12-04 01:02:03 UTC");
  });
});
