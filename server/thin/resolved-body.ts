/**
 * What a thin event becomes once its item's answer is known, as a pure
 * function (no I/O), so that whoever must predict it (the chaos run's model,
 * server/chaos/item-api.ts) uses the rule the workers use
 * (server/thin/resolve.ts):
 * - a state at least as new as the event: that state, under the event's own
 *   type and timestamp, at the state's version;
 * - gone (404): a delete at the event's own version;
 * - a state older than the event: nothing (the event is retried later).
 */
import type { TEventBody } from "../core/event.ts";
import type { FetchedItemState } from "./item-api.ts";

/** A cached answer of an item API: the state, or null for a 404 (gone) fetched for events up to `version`. */
export interface CachedItem {
  version: number;
  state: FetchedItemState | null;
}

/** A thin created or updated event, by the version it needs. */
export interface ThinToResolve {
  version: number;
  body: Extract<TEventBody, { type: "item.created" | "item.updated" }>;
}

/** The full body a thin event stands for, given its item's answer; null when the answer is older than the event. */
export function resolvedBody(event: ThinToResolve, answer: CachedItem): TEventBody | null {
  if (answer.state === null) return { type: "item.deleted", timestamp: event.body.timestamp, data: { id: event.body.data.id, version: event.version } };
  if (answer.state.version < event.version) return null;
  return { type: event.body.type, timestamp: event.body.timestamp, data: answer.state } as TEventBody;
}
