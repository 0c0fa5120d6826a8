/**
 * The chaos run's schedule, as a pure function of a seed and a size: the item
 * histories it generates, how they are delivered (duplicated, shuffled, cut
 * into single posts and batches, each at a planned moment), the pulled feed,
 * and the faults (which process is killed or which server is cut, when, for
 * how long). The same seed and size give the same plan, byte for byte, and
 * so the same digest, printed at the start of every run; only the
 * interleavings the operating system chooses differ between two runs.
 *
 * Thin events: a share of each webhook tenant's created and updated events
 * of its small items (THIN_SHARE, chosen by the seed) is planned thin: every delivery of it,
 * single or in a batch, posts `{"thin": true, data: {id, version}}` (see
 * wireBody), and the run's item API (./item-api.ts) answers each item's final
 * state over the tenant's whole history. The model the checks compare with
 * is then the model over the events as they resolve (./checks.ts).
 */
import { createHash } from "node:crypto";
import type { TEventBody } from "../core/event.ts";
import { seededRandom, shuffled, type Random } from "../lib/random.ts";
import type { FeedSpec } from "../sim/feed.ts";

export interface PlanSize {
  /** Tenants that receive webhooks (one more tenant pulls the feed). */
  webhookTenants: number;
  /** Events generated per webhook tenant, before duplication. */
  eventsPerTenant: number;
  /** Events the pulled feed serves (its own repeats included). */
  pulledEvents: number;
  /** How long deliveries and faults are spread over, ms. */
  windowMs: number;
  workers: number;
  apps: number;
  senders: number;
  /** Faults of each kind in the window. */
  workerKills: number;
  appKills: number;
  redisRestarts: number;
  databaseCuts: number;
  /** The share of the small items' created and updated events sent thin (THIN_SHARE unless told otherwise). */
  thinShare: number;
}

export const QUICK: PlanSize = {
  webhookTenants: 3,
  eventsPerTenant: 1_200,
  pulledEvents: 1_200,
  windowMs: 40_000,
  workers: 3,
  apps: 2,
  senders: 16,
  workerKills: 4,
  appKills: 1,
  redisRestarts: 1,
  databaseCuts: 1,
  thinShare: 0.3,
};

export const LONG: PlanSize = {
  webhookTenants: 4,
  eventsPerTenant: 5_000,
  pulledEvents: 5_000,
  windowMs: 180_000,
  workers: 3,
  apps: 2,
  senders: 24,
  workerKills: 14,
  appKills: 4,
  redisRestarts: 3,
  databaseCuts: 3,
  thinShare: 0.3,
};

/** The share of events delivered twice (same id, same body). */
export const DUPLICATE_SHARE = 0.3;
/** The share of deliveries that go in a batch rather than one by one. */
const BATCH_SHARE = 0.5;
const MAX_BATCH = 40;
/** Hot items per tenant: most events touch them, so concurrent batches contend for their rows. */
const HOT_ITEMS = 4;
const HOT_SHARE = 0.35;
const HOT_PREFIX = "hot-";
const SOURCE_ORIGIN_MS = Date.UTC(2026, 10, 27, 9, 0, 0);

export interface PlannedEvent {
  tenant: number;
  id: string;
  /** The full event: what the model takes, and what is sent unless the event is thin. */
  body: TEventBody;
  /** Sent as a thin event: only the item's id and version, the state fetched from the item API. */
  thin?: true;
}

/**
 * The share of a webhook tenant's created and updated events of its small items that are delivered thin. The hot
 * items stay full: a thin event resolves to its item's final state, so thin events on the hot items would take them to
 * their last version early and end the contention on their rows that the lock-order control (chaos.integration.test.ts)
 * needs to show a deadlock (with them thin, the reversed lock order went unseen).
 */
export const THIN_SHARE = QUICK.thinShare;

/** A thin event as it is sent: "this item changed, fetch it". */
export interface ThinBody {
  type: "item.created" | "item.updated";
  thin: true;
  timestamp: string;
  data: { id: string; version: number };
}

/** The event's body as it is sent: itself, or its thin form ({id, version}, `thin: true`). */
export function wireBody(event: PlannedEvent): TEventBody | ThinBody {
  const { body } = event;
  if (!event.thin || body.type === "item.deleted") return body;
  return { type: body.type, thin: true, timestamp: body.timestamp, data: { id: body.data.id, version: body.data.version } };
}

/** Whether the planned event may be sent thin: a created or updated event of a small (not hot) item. */
export function mayBeThin(event: PlannedEvent): boolean {
  return event.body.type !== "item.deleted" && !event.body.data.id.startsWith(HOT_PREFIX);
}

/** The same events with `share` of those that may be thin marked so (a random stream of its own, so histories do not change). */
function withThinEvents(events: PlannedEvent[], share: number, random: Random): PlannedEvent[] {
  return events.map((event) => (mayBeThin(event) && random() < share ? { ...event, thin: true } : event));
}

export type Delivery =
  | { channel: "single"; atMs: number; tenant: number; event: PlannedEvent }
  | { channel: "batch"; atMs: number; tenant: number; batchId: string; events: PlannedEvent[] };

export type FaultKind = "kill-worker" | "kill-app" | "restart-redis" | "cut-database";

export interface PlannedFault {
  atMs: number;
  kind: FaultKind;
  /** Which worker or app (by index); 0 otherwise. */
  target: number;
  /** How long it stays down before it is restarted or restored. */
  downMs: number;
}

export interface ChaosPlan {
  seed: number;
  size: PlanSize;
  /** Per webhook tenant (index 0…), its generated events, each once. */
  events: PlannedEvent[][];
  deliveries: Delivery[];
  /** The pull tenant's feed (served by the simulated upstream). */
  feed: Extract<FeedSpec, { kind: "fixed" }>;
  faults: PlannedFault[];
  /** SHA-256 of all of the above: two runs with one digest ran one schedule. */
  digest: string;
}

const CATEGORIES = ["books", "tools", "garden", "music"] as const;

function pick<T>(values: readonly T[], random: Random): T {
  return values[Math.floor(random() * values.length)] as T;
}

/** One tenant's item histories: hot items with long histories, many small ones; deletes, and items that come back after one. */
export function tenantHistories(seed: number, tenant: number, count: number): PlannedEvent[] {
  const random = seededRandom((seed * 7919 + tenant * 104_729 + 17) | 0);
  const versions = new Map<string, number>();
  const events: PlannedEvent[] = [];
  let small = 0;
  for (let n = 0; n < count; n++) {
    const hot = random() < HOT_SHARE;
    // A small item gets a few versions in a row; then the next one starts.
    const itemId = hot ? `${HOT_PREFIX}${Math.floor(random() * HOT_ITEMS)}` : random() < 0.3 ? `item-${small++}` : `item-${Math.max(0, small - 1)}`;
    const version = (versions.get(itemId) ?? 0) + 1;
    versions.set(itemId, version);
    const timestamp = new Date(SOURCE_ORIGIN_MS + n * 1_000).toISOString();
    const id = `chaos-${seed}-t${tenant}-e${n}`;
    let body: TEventBody;
    if (version > 1 && random() < 0.12) body = { type: "item.deleted", timestamp, data: { id: itemId, version } };
    else {
      const refs = random() < 0.4 ? [`${HOT_PREFIX}${Math.floor(random() * HOT_ITEMS)}`] : [];
      const data = { id: itemId, version, name: `${itemId} v${version}`, category: pick(CATEGORIES, random), value: Math.round(random() * 10_000) / 100, refs };
      body = { type: version === 1 ? "item.created" : "item.updated", timestamp, data };
    }
    events.push({ tenant, id, body });
  }
  return events;
}

/** One tenant's events once, 30% of them twice, shuffled, cut into singles and batches (no batch holds one id twice). */
function tenantDeliveries(events: readonly PlannedEvent[], random: Random, seed: number): Delivery[] {
  const copies = [...events, ...events.filter(() => random() < DUPLICATE_SHARE)];
  const order = shuffled(copies, random);
  const deliveries: Delivery[] = [];
  let batches = 0;
  for (let i = 0; i < order.length;) {
    const first = order[i] as PlannedEvent;
    if (random() >= BATCH_SHARE) {
      deliveries.push({ channel: "single", atMs: 0, tenant: first.tenant, event: first });
      i++;
      continue;
    }
    const want = 2 + Math.floor(random() * (MAX_BATCH - 1));
    const batch: PlannedEvent[] = [];
    const ids = new Set<string>();
    while (i < order.length && batch.length < want && !ids.has((order[i] as PlannedEvent).id)) {
      const event = order[i++] as PlannedEvent;
      ids.add(event.id);
      batch.push(event);
    }
    deliveries.push({ channel: "batch", atMs: 0, tenant: first.tenant, batchId: `chaos-${seed}-t${first.tenant}-b${batches++}`, events: batch });
  }
  return deliveries;
}

/** All tenants' deliveries interleaved at random, each with a moment in the window. */
function deliveriesOf(events: readonly PlannedEvent[][], random: Random, windowMs: number, seed: number): Delivery[] {
  const deliveries = shuffled(
    events.flatMap((tenantEvents) => tenantDeliveries(tenantEvents, random, seed)),
    random,
  );
  // Spread over the first 85% of the window, so the last faults still meet traffic and the tail drains.
  return deliveries.map((delivery, index) => ({ ...delivery, atMs: Math.floor(((index + random()) / deliveries.length) * windowMs * 0.85) }));
}

/** Faults in slots across the window (shuffled kinds), so they overlap traffic and sometimes each other, never all at once. */
function faultsOf(size: PlanSize, random: Random): PlannedFault[] {
  const kinds: FaultKind[] = [
    ...Array<FaultKind>(size.workerKills).fill("kill-worker"),
    ...Array<FaultKind>(size.appKills).fill("kill-app"),
    ...Array<FaultKind>(size.redisRestarts).fill("restart-redis"),
    ...Array<FaultKind>(size.databaseCuts).fill("cut-database"),
  ];
  const slots = shuffled(kinds, random);
  // Faults start after a tenth of the window (traffic is flowing) and end by 85% (then the system drains).
  const start = size.windowMs * 0.1;
  const span = (size.windowMs * 0.75) / Math.max(1, slots.length);
  return slots.map((kind, slot) => {
    const atMs = Math.floor(start + slot * span + random() * span * 0.5);
    switch (kind) {
      case "kill-worker":
        return { atMs, kind, target: Math.floor(random() * size.workers), downMs: 300 + Math.floor(random() * 1_700) };
      case "kill-app":
        return { atMs, kind, target: Math.floor(random() * size.apps), downMs: 500 + Math.floor(random() * 1_500) };
      case "restart-redis":
        return { atMs, kind, target: 0, downMs: 500 + Math.floor(random() * 1_500) };
      case "cut-database":
        return { atMs, kind, target: 0, downMs: 2_000 + Math.floor(random() * 2_000) };
    }
  });
}

export function makePlan(seed: number, size: PlanSize): ChaosPlan {
  const random = seededRandom(seed);
  const thinRandom = seededRandom((seed * 31 + 7) | 0);
  const events = Array.from({ length: size.webhookTenants }, (_, tenant) =>
    withThinEvents(tenantHistories(seed, tenant, size.eventsPerTenant), size.thinShare, thinRandom),
  );
  const deliveries = deliveriesOf(events, random, size.windowMs, seed);
  const faults = faultsOf(size, random);
  const feed = { seed, kind: "fixed", total: size.pulledEvents } as const;
  const digest = createHash("sha256").update(JSON.stringify({ seed, size, events, deliveries, feed, faults })).digest("hex");
  return { seed, size, events, deliveries, feed, faults, digest };
}
