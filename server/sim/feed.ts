/**
 * The simulated upstream's feed: an endless (or cut-off) sequence of item
 * events that looks like a real tenant's traffic, as a pure function of a
 * seed and a position. The same seed gives the same feed, byte for byte, in
 * any process and at any time, so a test can compute exactly what the
 * upstream served.
 *
 * The feed is made of blocks of BLOCK_LENGTH positions. Block b holds:
 * - the histories of WHALES items that change all the time (whale-0…): a run
 *   of versions per block, increasing from block to block, now and then a
 *   delete (and the next version brings the item back);
 * - many small items (item-<b>-<k>), each with a short history: created,
 *   some updates, sometimes deleted, sometimes recreated after the delete;
 * all shuffled, so versions arrive out of order and a delete may come before
 * its create. The last LATE events of each block are held back and arrive in
 * the next block (out of order across pages), and DUPLICATES events of the
 * previous block are sent again under the same id (duplicates across pages).
 *
 * Positions, cursors and the contract: a page is the events at positions
 * [p, p + limit) up to what is available; the cursor names a position. A
 * "fixed" feed has `total` positions, all available at once. A "live" feed
 * makes `ratePerSecond` positions available per second of wall-clock time,
 * and its first page starts one minute back, so a new source sees a
 * minute of history and then the present.
 */
import { seededRandom, shuffled, type Random } from "../lib/random.ts";
import { modelState, type ItemState } from "../core/model.ts";
import type { TEventBody } from "../core/event.ts";

export const WHALES = 3;
const WHALE_EVENTS_PER_BLOCK = 20;
const BASE_EVENTS = 200;
const LATE = 10;
const DUPLICATES = 10;
export const BLOCK_LENGTH = BASE_EVENTS + DUPLICATES;
const CATEGORIES = ["books", "tools", "garden", "music", "games", "food"] as const;
/** Wall-clock origin of live feeds: positions count from here. */
const LIVE_ORIGIN_MS = Date.UTC(2026, 0, 1);
/** Timestamps of fixed feeds: one second per position from here. */
const FIXED_ORIGIN_MS = Date.UTC(2026, 10, 27);
const LIVE_HISTORY_MS = 60_000;

export type FeedSpec = { seed: number; kind: "fixed"; total: number } | { seed: number; kind: "live"; ratePerSecond: number };

export interface FeedEvent {
  /** The batch-style envelope: {id, type, timestamp, data}. */
  id: string;
  type: TEventBody["type"];
  timestamp: string;
  data: TEventBody["data"];
}

/** 32-bit mix of a seed and a block number, so neighbouring blocks get unrelated random streams. */
function mix(seed: number, block: number, salt: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const part of [block % 0x1_0000_0000, Math.floor(block / 0x1_0000_0000), salt]) {
    h = Math.imul(h ^ part, 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

function timestampOf(spec: FeedSpec, block: number, index: number): string {
  const ordinal = block * BASE_EVENTS + index;
  const ms = spec.kind === "live" ? LIVE_ORIGIN_MS + (ordinal * 1_000) / spec.ratePerSecond : FIXED_ORIGIN_MS + ordinal * 1_000;
  return new Date(Math.floor(ms)).toISOString();
}

function itemData(random: Random, id: string, version: number, refsFrom: readonly string[]): TEventBody["data"] {
  const refs = refsFrom.filter(() => random() < 0.15).slice(0, 3);
  return {
    id,
    version,
    name: `${id} v${version}`,
    category: CATEGORIES[Math.floor(random() * CATEGORIES.length)] as string,
    value: Math.round(random() * 100_000) / 100,
    refs,
  };
}

/** Block b's own events, in the order they are sent (shuffled), before any are held back. */
function baseEvents(spec: FeedSpec, block: number): FeedEvent[] {
  const random = seededRandom(mix(spec.seed, block, 1));
  const whales = Array.from({ length: WHALES }, (_, w) => `whale-${w}`);
  const drafts: Omit<FeedEvent, "id" | "timestamp">[] = [];

  for (const whale of whales) {
    for (let j = 0; j < WHALE_EVENTS_PER_BLOCK; j++) {
      const version = block * WHALE_EVENTS_PER_BLOCK + j + 1;
      if (version === 1) drafts.push({ type: "item.created", data: itemData(random, whale, version, whales) });
      else if (random() < 0.03) drafts.push({ type: "item.deleted", data: { id: whale, version } });
      else drafts.push({ type: "item.updated", data: itemData(random, whale, version, whales) });
    }
  }

  for (let k = 0; drafts.length < BASE_EVENTS; k++) {
    const id = `item-${block}-${k}`;
    const length = 1 + Math.floor(random() * 6);
    const refs = [...whales, `item-${block}-${Math.max(0, k - 1)}`];
    let deleted = false;
    for (let version = 1; version <= length && drafts.length < BASE_EVENTS; version++) {
      const last = version === length;
      if (version === 1) drafts.push({ type: "item.created", data: itemData(random, id, version, whales) });
      else if (last && random() < 0.35) {
        drafts.push({ type: "item.deleted", data: { id, version } });
        deleted = true;
      } else drafts.push({ type: "item.updated", data: itemData(random, id, version, refs) });
    }
    // Now and then a deleted item comes back with a newer version.
    if (deleted && random() < 0.3 && drafts.length < BASE_EVENTS) drafts.push({ type: "item.updated", data: itemData(random, id, length + 1, refs) });
  }

  const events = drafts.map((draft, index) => ({ id: `sim-${spec.seed}-${block}-${index}`, timestamp: timestampOf(spec, block, index), ...draft }));
  return shuffled(events, random);
}

/** The BLOCK_LENGTH events block b sends, in order. */
export function blockEvents(spec: FeedSpec, block: number): FeedEvent[] {
  const own = baseEvents(spec, block);
  const sent = own.slice(0, BASE_EVENTS - LATE);
  const previous = block > 0 ? baseEvents(spec, block - 1) : own;
  // Block 0 has no predecessor: its own held-back events arrive at its end instead (and again in block 1).
  const late = previous.slice(BASE_EVENTS - LATE);
  const random = seededRandom(mix(spec.seed, block, 2));
  const pool = block > 0 ? previous.slice(0, BASE_EVENTS - LATE) : sent;
  const repeats = Array.from({ length: DUPLICATES }, () => pool[Math.floor(random() * pool.length)] as FeedEvent);
  const tail = shuffled([...late, ...repeats], random);
  // The held-back and repeated events land among the block's own, not all at its start.
  const mixed = [...sent];
  for (const event of tail) mixed.splice(Math.floor(random() * (mixed.length + 1)), 0, event);
  return mixed;
}

/** How many positions are available at `nowMs`. */
export function available(spec: FeedSpec, nowMs: number): number {
  if (spec.kind === "fixed") return spec.total;
  return Math.max(0, Math.floor(((nowMs - LIVE_ORIGIN_MS) * spec.ratePerSecond) / 1_000));
}

/** Where a page without a cursor starts. */
export function firstPosition(spec: FeedSpec, nowMs: number): number {
  if (spec.kind === "fixed") return 0;
  return Math.max(0, available(spec, nowMs) - Math.floor((LIVE_HISTORY_MS * spec.ratePerSecond) / 1_000));
}

/** The events at positions [from, to). */
export function eventsBetween(spec: FeedSpec, from: number, to: number): FeedEvent[] {
  const out: FeedEvent[] = [];
  for (let block = Math.floor(from / BLOCK_LENGTH); block * BLOCK_LENGTH < to; block++) {
    const events = blockEvents(spec, block);
    const start = Math.max(from, block * BLOCK_LENGTH) - block * BLOCK_LENGTH;
    const end = Math.min(to, (block + 1) * BLOCK_LENGTH) - block * BLOCK_LENGTH;
    out.push(...events.slice(start, end));
  }
  return out;
}

const CURSOR_PREFIX = "sim1.";

/** Cursors look opaque, as real APIs' do; they name a position. */
export function encodeCursor(position: number): string {
  return CURSOR_PREFIX + Buffer.from(`p${position}`).toString("base64url");
}

export function decodeCursor(cursor: string): number | null {
  if (!cursor.startsWith(CURSOR_PREFIX)) return null;
  const match = /^p(\d{1,15})$/.exec(Buffer.from(cursor.slice(CURSOR_PREFIX.length), "base64url").toString());
  return match ? Number(match[1]) : null;
}

export interface FeedPage {
  events: FeedEvent[];
  next_cursor: string;
  has_more: boolean;
}

/** The page at `cursor` (null: the first), of at most `limit` events. Null for a cursor this feed did not issue. */
export function feedPage(spec: FeedSpec, cursor: string | null, limit: number, nowMs: number): { page: FeedPage; from: number } | null {
  const from = cursor === null ? firstPosition(spec, nowMs) : decodeCursor(cursor);
  if (from === null) return null;
  const end = available(spec, nowMs);
  const to = Math.max(from, Math.min(from + limit, end));
  return { page: { events: eventsBetween(spec, from, to), next_cursor: encodeCursor(to), has_more: to < end }, from };
}

/** The item API's answer: the item's state over the events sent so far, or null (unknown or deleted: 404). */
export function itemState(
  spec: FeedSpec,
  itemId: string,
  nowMs: number,
): { id: string; version: number; name: string | null; category: string | null; value: number | null; refs: string[] } | null {
  const end = available(spec, nowMs);
  if (end === 0) return null;
  let blocks: number[];
  const small = /^item-(\d{1,15})-\d{1,6}$/.exec(itemId);
  if (small) blocks = [Number(small[1]), Number(small[1]) + 1];
  else if (/^whale-\d+$/.test(itemId) && Number(itemId.slice(6)) < WHALES) {
    const last = Math.floor((end - 1) / BLOCK_LENGTH);
    blocks = [last - 1, last].filter((block) => block >= 0);
  } else return null;

  const events = blocks
    .filter((block) => block * BLOCK_LENGTH < end)
    .flatMap((block) => eventsBetween(spec, block * BLOCK_LENGTH, Math.min(end, (block + 1) * BLOCK_LENGTH)))
    .filter((event) => event.data.id === itemId);
  const state: ItemState | undefined = modelState(events.map((event) => ({ eventId: event.id, body: toBody(event) }))).get(itemId);
  if (!state || state.deleted) return null;
  return { id: itemId, version: state.version, name: state.name, category: state.category, value: state.value, refs: state.refs };
}

/** The envelope without its id: what is stored and applied. */
export function toBody(event: FeedEvent): TEventBody {
  return { type: event.type, timestamp: event.timestamp, data: event.data } as TEventBody;
}

/** "demo", "seed-7-rate-20" (live) or "seed-7-total-5000" (fixed): the feed a URL names. */
export function parseFeedSpec(text: string): FeedSpec | null {
  if (text === "demo") return DEMO_FEED;
  const match = /^seed-(\d{1,9})-(rate|total)-(\d{1,8})$/.exec(text);
  if (!match) return null;
  const seed = Number(match[1]);
  const amount = Number(match[3]);
  if (match[2] === "rate") return amount >= 1 && amount <= 1_000 ? { seed, kind: "live", ratePerSecond: amount } : null;
  return amount <= 10_000_000 ? { seed, kind: "fixed", total: amount } : null;
}

export function feedSpecName(spec: FeedSpec): string {
  return spec.kind === "live" ? `seed-${spec.seed}-rate-${spec.ratePerSecond}` : `seed-${spec.seed}-total-${spec.total}`;
}

/** The demo tenant's feed: live, 10 events a second. */
export const DEMO_FEED: FeedSpec = { seed: 1, kind: "live", ratePerSecond: 10 };
