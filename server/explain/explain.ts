/**
 * Why an event is still waiting, in words: pure functions of the scheduler's
 * state as server/explain/scheduler-state.ts reads it (no I/O here), so each
 * sentence follows from one figure of that state and is unit-tested.
 *
 * An explanation is a list of reasons, the one that holds the event back
 * first, then what else is true of it or its tenant (a thin event's fetch,
 * refusals at the edge). The first reason of a pending event follows the
 * claim's own order of checks (tidemark_claim): not due yet (a retry's
 * backoff) → its tenant at max_concurrency → older due events of its tenant
 * first → other tenants ahead in the ring → next in line. An event never
 * waits for other events of its item: items are last-writer-wins by version,
 * so events are applied in any order (docs/design.md, "Event semantics").
 */
import { TRANSIENT_ERROR_PREFIX } from "../worker/transient.ts";
import type { TenantSchedulerState, WaitingEventState } from "./scheduler-state.ts";

export type ReasonCode =
  | "in-flight"
  | "thin-fetching"
  | "lease-expired"
  | "retrying-transient"
  | "retrying-failed"
  | "scheduled-later"
  | "tenant-at-max-concurrency"
  | "behind-tenant-backlog"
  | "waiting-for-turn"
  | "next-in-line"
  | "thin-fetch-next"
  | "thin-no-item-api"
  | "refused-at-edge"
  | "source-waiting";

export interface Reason {
  code: ReasonCode;
  text: string;
}

export interface EventExplanation {
  eventId: string;
  itemId: string;
  status: "pending" | "processing";
  /** The first reason is what holds the event back; the rest add what else is true. */
  reasons: Reason[];
}

export interface ExplainSettings {
  /** WORKER_MAX_ATTEMPTS: attempts before an event is dead. */
  maxAttempts: number;
}

const count = (n: number) => n.toLocaleString("en-US");
const plural = (n: number, word: string, many = `${word}s`) => `${count(n)} ${n === 1 ? word : many}`;

/** "10:15:02 UTC" (the date too when it is not today's, on the database's clock). */
export function formatInstant(at: Date, now: Date): string {
  const iso = at.toISOString();
  const time = `${iso.slice(11, 19)} UTC`;
  return iso.slice(0, 10) === now.toISOString().slice(0, 10) ? time : `${iso.slice(0, 10)} ${time}`;
}

/** "in 12 s", "in 3 min", "in 2 h", or "12 s ago". */
export function formatRelative(at: Date, now: Date): string {
  const ms = at.getTime() - now.getTime();
  const abs = Math.abs(ms);
  const span =
    abs < 60_000 ? `${Math.max(1, Math.round(abs / 1000))} s` : abs < 3_600_000 ? `${Math.round(abs / 60_000)} min` : `${Math.round(abs / 3_600_000)} h`;
  return ms >= 0 ? `in ${span}` : `${span} ago`;
}

const at = (date: Date, now: Date) => `${formatInstant(date, now)}, ${formatRelative(date, now)}`;

/** "attempt 2 of 5": the attempt counted by the last claim, against the maximum. */
function attemptOf(attempt: number, settings: ExplainSettings): string {
  return `attempt ${count(attempt)} of ${count(settings.maxAttempts)}`;
}

function inFlight(event: WaitingEventState, now: Date, settings: ExplainSettings): Reason {
  const lease = event.lease;
  if (!lease) return { code: "in-flight", text: "in flight (no lease recorded)" };
  if (lease.expired) {
    return {
      code: "lease-expired",
      text: `lease held by worker ${lease.worker} expired at ${at(lease.until, now)}: that worker stopped or stalled mid-batch; a reaper returns the event to the queue (${attemptOf(event.attempt, settings)})`,
    };
  }
  if (event.thin) {
    return {
      code: "thin-fetching",
      text: `thin event waiting for its fetch from the tenant's item API: lease held by worker ${lease.worker} until ${at(lease.until, now)} (${attemptOf(event.attempt, settings)})`,
    };
  }
  return {
    code: "in-flight",
    text: `being applied: lease held by worker ${lease.worker} until ${at(lease.until, now)} (${attemptOf(event.attempt, settings)})`,
  };
}

/** Why a pending event is not taken yet: the claim's checks, in its order. */
function pendingReason(event: WaitingEventState, tenant: TenantSchedulerState, settings: ExplainSettings): Reason {
  const now = tenant.now;
  if (!event.due) {
    const next = `next try at ${at(event.availableAt, now)}`;
    if (event.lastError?.startsWith(TRANSIENT_ERROR_PREFIX)) {
      return {
        code: "retrying-transient",
        text: `retrying after a transient error (${next}); transient errors spend no attempt (${count(event.attempt)} of ${count(settings.maxAttempts)} used) and never make it dead: ${event.lastError}`,
      };
    }
    if (event.lastError !== null) {
      const left = settings.maxAttempts - event.attempt;
      return {
        code: "retrying-failed",
        text: `retrying after an error, ${attemptOf(event.attempt, settings)} (${next}; ${left > 0 ? `${plural(left, "attempt")} left before it is dead` : "its next failure makes it dead"}): ${event.lastError}`,
      };
    }
    return { code: "scheduled-later", text: `not due until ${at(event.availableAt, now)}` };
  }
  if (tenant.batchesInFlight >= tenant.maxConcurrency) {
    return {
      code: "tenant-at-max-concurrency",
      text: `tenant at its max concurrency (${plural(tenant.batchesInFlight, "batch", "batches")} in flight, max ${count(tenant.maxConcurrency)}): it gets no new claim until one finishes`,
    };
  }
  const ahead = event.aheadInTenant ?? 0;
  if (ahead > 0) {
    return { code: "behind-tenant-backlog", text: `behind ${plural(ahead, "older event")} of this tenant: each tenant's events are taken oldest first` };
  }
  if (tenant.tenantsAheadInRing > 0) {
    return {
      code: "waiting-for-turn",
      text: `waiting for its tenant's turn: ${plural(tenant.tenantsAheadInRing, "other tenant")} with work ${tenant.tenantsAheadInRing === 1 ? "is" : "are"} ahead in the fair-share ring`,
    };
  }
  return { code: "next-in-line", text: "next in line: the next claim takes it" };
}

/** What else is true of a pending event or its tenant that matters while it waits. */
function pendingNotes(event: WaitingEventState, tenant: TenantSchedulerState): Reason[] {
  const notes: Reason[] = [];
  if (event.thin) {
    notes.push(
      tenant.hasItemApi
        ? { code: "thin-fetch-next", text: "thin event: once claimed, its state is fetched from the tenant's item API before it is applied" }
        : { code: "thin-no-item-api", text: "thin event, but the tenant has no item API set: its fetch fails until an admin sets one" },
    );
  }
  if (tenant.refusedAtEdgeRecently > 0) {
    notes.push({
      code: "refused-at-edge",
      text: `tenant rate-limited at the edge: ${plural(tenant.refusedAtEdgeRecently, "delivery", "deliveries")} refused (rate limit or daily quota) in the last 2 minutes; that holds back newer events at the sender, not this stored one`,
    });
  }
  if (tenant.sourceWaitingFor !== null) {
    const what = { rate: "its rate limit", quota: "its daily quota", backoff: "a backoff after failed fetches" }[tenant.sourceWaitingFor];
    const until = tenant.sourceNextFetchAt ? ` until ${at(tenant.sourceNextFetchAt, tenant.now)}` : "";
    notes.push({ code: "source-waiting", text: `the tenant's source waits for ${what}${until} before pulling newer events` });
  }
  return notes;
}

/** Why `event` is still waiting, from its tenant's scheduler state read in the same request. */
export function explainEvent(event: WaitingEventState, tenant: TenantSchedulerState, settings: ExplainSettings): EventExplanation {
  const reasons =
    event.status === "processing" ? [inFlight(event, tenant.now, settings)] : [pendingReason(event, tenant, settings), ...pendingNotes(event, tenant)];
  return { eventId: event.eventId, itemId: event.itemId, status: event.status, reasons };
}
