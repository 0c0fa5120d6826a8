/**
 * The event semantics of docs/design.md as pure functions: the specification that
 * applyBatch implements in SQL and that the property tests check it against.
 *
 * An item's state is a function of the *set* of its events: the event with
 * the greatest (version, type rank, event id) wins, where created < updated
 * < deleted and event ids compare by code point. A deleted winner leaves a
 * tombstone (deleted, no content). So any order, duplication or interleaving
 * of the same events gives the same state.
 */
import { canonicalJson, sha256 } from "../lib/canonical-json.ts";
import type { EventType, TEventBody } from "./event.ts";
import { compareIds } from "./lock-order.ts";

export const TYPE_RANK: Record<EventType, 1 | 2 | 3> = { "item.created": 1, "item.updated": 2, "item.deleted": 3 };

/** What decides the winner among an item's events. */
export interface Precedence {
  version: number;
  typeRank: number;
  eventId: string;
}

/** Negative when a loses to b, positive when a beats b, 0 for the same event. */
export function comparePrecedence(a: Precedence, b: Precedence): number {
  if (a.version !== b.version) return a.version < b.version ? -1 : 1;
  if (a.typeRank !== b.typeRank) return a.typeRank < b.typeRank ? -1 : 1;
  return Math.sign(compareIds(a.eventId, b.eventId));
}

/** The state an item takes when `body` (delivered as `eventId`) wins. */
export interface ItemState extends Precedence {
  itemId: string;
  deleted: boolean;
  name: string | null;
  category: string | null;
  value: number | null;
  /** Sorted by code point, without repeats. */
  refs: string[];
  /** SHA-256 of the content (deleted, name, category, value, refs): equal hashes, same content. */
  contentHash: Buffer;
}

export function itemStateOf(eventId: string, body: TEventBody): ItemState {
  const deleted = body.type === "item.deleted";
  const data = body.data as { id: string; version: number; name?: string | null; category?: string | null; value?: number | null; refs?: string[] };
  const content = {
    deleted,
    name: deleted ? null : (data.name ?? null),
    category: deleted ? null : (data.category ?? null),
    value: deleted ? null : (data.value ?? null),
    refs: deleted ? [] : [...new Set(data.refs ?? [])].sort(compareIds),
  };
  return {
    itemId: data.id,
    version: data.version,
    typeRank: TYPE_RANK[body.type],
    eventId,
    ...content,
    contentHash: sha256(canonicalJson(content)),
  };
}

/** Same version, type and content: a redelivery, whatever its event id. */
export function isSameChange(a: Pick<ItemState, "version" | "typeRank" | "contentHash">, b: Pick<ItemState, "version" | "typeRank" | "contentHash">): boolean {
  return a.version === b.version && a.typeRank === b.typeRank && a.contentHash.equals(b.contentHash);
}

/** The model: each item's winning state over a collection of events (repeats allowed). */
export function modelState(events: Iterable<{ eventId: string; body: TEventBody }>): Map<string, ItemState> {
  const states = new Map<string, ItemState>();
  for (const { eventId, body } of events) {
    const candidate = itemStateOf(eventId, body);
    const current = states.get(candidate.itemId);
    if (!current || comparePrecedence(candidate, current) > 0) states.set(candidate.itemId, candidate);
  }
  return states;
}
