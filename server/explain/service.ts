/**
 * Explanations for callers that already checked access to the tenant (the
 * tRPC router, server/api/routers/explain.ts): the scheduler's state read by
 * scheduler-state.ts, put into words by explain.ts. Reads only.
 */
import { env } from "../env.ts";
import { explainEvent, type EventExplanation, type ExplainSettings } from "./explain.ts";
import { readTenantSchedulerState, readWaitingEvent, readWaitingEventsOfItem } from "./scheduler-state.ts";

export function explainSettingsFromEnv(): ExplainSettings {
  return { maxAttempts: env.WORKER_MAX_ATTEMPTS };
}

/** Why each pending or in-flight event of the item waits (oldest first; none when nothing of it waits). */
export async function explainItem(tenantId: number, itemId: string, settings = explainSettingsFromEnv()): Promise<EventExplanation[]> {
  const events = await readWaitingEventsOfItem(tenantId, itemId);
  if (events.length === 0) return [];
  const tenant = await readTenantSchedulerState(tenantId);
  return events.map((event) => explainEvent(event, tenant, settings));
}

/** Why one event waits, or null when it is not waiting (done, dead, or no such event of this tenant). */
export async function explainEventById(tenantId: number, eventId: string, settings = explainSettingsFromEnv()): Promise<EventExplanation | null> {
  const event = await readWaitingEvent(tenantId, eventId);
  if (!event) return null;
  return explainEvent(event, await readTenantSchedulerState(tenantId), settings);
}
