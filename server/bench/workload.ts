/**
 * Item histories for the processing benchmarks: `events` events over `items`
 * items, with rising versions per item, about one delete in ten, and arrival
 * order shuffled (so many events arrive after a newer version of their item,
 * as they do from real senders). Stored through the ingestion path itself
 * (storeEvents), so the inbox rows are exactly what the webhooks would store.
 */
import type { TEventBody } from "../core/event.ts";
import { storeEvents } from "../ingest/store-events.ts";
import { canonicalJson, sha256 } from "../lib/canonical-json.ts";
import { seededRandom, shuffled } from "../lib/random.ts";

export interface WorkloadEvent {
  eventId: string;
  body: TEventBody;
}

export function workload(tag: string, events: number, items: number, seed = 1): WorkloadEvent[] {
  const random = seededRandom(seed);
  const out: WorkloadEvent[] = [];
  for (let seq = 0; seq < events; seq++) {
    const item = seq % items;
    const version = Math.floor(seq / items) + 1;
    const type = version === 1 ? "item.created" : random() < 0.1 ? "item.deleted" : "item.updated";
    const data =
      type === "item.deleted"
        ? { id: `item-${item}`, version }
        : {
            id: `item-${item}`,
            version,
            name: `Item ${item} v${version}`,
            category: `category-${item % 16}`,
            value: random() * 100,
            refs: [`item-${(item * 7 + 1) % items}`],
          };
    out.push({ eventId: `${tag}-${seq}`, body: { type, timestamp: "2026-11-27T10:00:00Z", data } as TEventBody });
  }
  return shuffled(out, random);
}

/** Stores the events as pending, in arrival order, through the webhook's own storage code. */
export async function storeWorkload(tenantId: number, events: readonly WorkloadEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 1_000) {
    const chunk = events.slice(i, i + 1_000).map((event) => ({ ...event, payloadHash: sha256(canonicalJson(event.body)) }));
    await storeEvents(tenantId, chunk);
  }
}
