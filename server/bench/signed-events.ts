/**
 * Synthetic events for the bench, and Standard Webhooks requests carrying
 * them, signed with the app's own `sign`.
 *
 * Every request has a fresh event id (the idempotency key), so each one is a
 * real insert, never a duplicate. Requests are signed ahead of a run so that
 * the load generator, which shares the machine's cores with the app, spends
 * no CPU on HMACs while it measures; a source that runs dry, or holds a
 * request signed too long ago for the 5-minute replay window, signs on
 * demand and counts it (`signedLive`), so the report can say so.
 *
 * The same events also feed the raw-SQL baselines as rows with the columns
 * the webhook stores (payload as JSON text, SHA-256 of its canonical JSON).
 */
import { sign } from "../ingest/signature.ts";
import { canonicalJson, sha256 } from "../lib/canonical-json.ts";

/** A request signed longer ago than this is re-signed: well inside the 5-minute tolerance. */
const MAX_SIGNATURE_AGE_SECONDS = 240;
const SOURCE_EPOCH_MS = Date.UTC(2026, 10, 27, 10, 0, 0);
const ITEMS = 10_000;

export interface BenchEvent {
  type: "item.created" | "item.updated";
  timestamp: string;
  data: { id: string; version: number; name: string; category: string; value: number; refs: string[] };
}

/** Event number `seq`: ~200 bytes of JSON, spread over ITEMS items with rising versions. */
export function syntheticEvent(seq: number): BenchEvent {
  const item = seq % ITEMS;
  return {
    type: seq < ITEMS ? "item.created" : "item.updated",
    timestamp: new Date(SOURCE_EPOCH_MS + seq).toISOString(),
    data: {
      id: `item-${item}`,
      version: Math.floor(seq / ITEMS) + 1,
      name: `Item ${item}`,
      category: `category-${item % 16}`,
      value: (seq % 1_000) / 8,
      refs: [`item-${(item * 7 + 1) % ITEMS}`],
    },
  };
}

export interface SignedRequest {
  /** The webhook-id: the event id, or the batch's id. */
  id: string;
  headers: Record<string, string>;
  body: Buffer;
  signedAtSeconds: number;
}

export interface Payload {
  id: string;
  body: Buffer;
}

export function signRequest(secret: string, payload: Payload, nowSeconds = Math.floor(Date.now() / 1000)): SignedRequest {
  return {
    id: payload.id,
    body: payload.body,
    signedAtSeconds: nowSeconds,
    headers: {
      "content-type": "application/json",
      "webhook-id": payload.id,
      "webhook-timestamp": String(nowSeconds),
      "webhook-signature": sign(secret, payload.id, nowSeconds, payload.body),
    },
  };
}

/** One event per request: POST /api/webhooks/{tenant}. */
export function singleEventPayload(prefix: string, seq: number): Payload {
  return { id: `${prefix}-${seq}`, body: Buffer.from(JSON.stringify(syntheticEvent(seq))) };
}

/** `size` events per request: POST /api/webhooks/{tenant}/batch; event ids are `${prefix}-${seq}-${k}`. */
export function batchPayload(prefix: string, seq: number, size: number): Payload {
  const events = Array.from({ length: size }, (_, k) => ({ id: `${prefix}-${seq}-${k}`, ...syntheticEvent(seq * size + k) }));
  return { id: `${prefix}-${seq}`, body: Buffer.from(JSON.stringify({ events })) };
}

/** Signed requests, each handed out once: precomputed first, then signed on demand. */
export class SignedRequestSource {
  private readonly pool: (SignedRequest | undefined)[] = [];
  private nextIndex = 0;
  private nextSeq = 0;
  /** Requests signed while a run was going (the pool ran dry or had gone stale). */
  signedLive = 0;

  constructor(
    private readonly secret: string,
    private readonly payload: (seq: number) => Payload,
  ) {}

  /** Signs `count` more requests now, stopping early once `maxBytes` of bodies are held. */
  precompute(count: number, maxBytes = Number.POSITIVE_INFINITY): number {
    const now = Math.floor(Date.now() / 1000);
    let bytes = 0;
    let made = 0;
    while (made < count && bytes < maxBytes) {
      const request = signRequest(this.secret, this.payload(this.nextSeq++), now);
      bytes += request.body.length;
      this.pool.push(request);
      made++;
    }
    return made;
  }

  get remaining(): number {
    return this.pool.length - this.nextIndex;
  }

  next(): SignedRequest {
    const now = Math.floor(Date.now() / 1000);
    const request = this.pool[this.nextIndex];
    if (request === undefined) {
      this.signedLive++;
      return signRequest(this.secret, this.payload(this.nextSeq++), now);
    }
    this.pool[this.nextIndex++] = undefined; // handed out once: let its body be collected
    if (now - request.signedAtSeconds <= MAX_SIGNATURE_AGE_SECONDS) return request;
    this.signedLive++;
    return signRequest(this.secret, { id: request.id, body: request.body }, now);
  }
}

/** The `events` columns the webhook writes, for one event, in INSERT order. */
export const EVENT_COLUMNS = ["tenant_id", "event_id", "type", "item_id", "version", "payload", "payload_hash", "source_timestamp"] as const;

export function eventRow(tenantId: number, eventId: string, event: BenchEvent): unknown[] {
  return [tenantId, eventId, event.type, event.data.id, event.data.version, JSON.stringify(event), sha256(canonicalJson(event)), event.timestamp];
}

/** `INSERT INTO events (…) VALUES (…), … ON CONFLICT (tenant_id, event_id) DO NOTHING` for `rows` rows. */
export function multiRowInsert(rows: number): string {
  const width = EVENT_COLUMNS.length;
  const tuples = Array.from({ length: rows }, (_, row) => `(${Array.from({ length: width }, (_, col) => `$${row * width + col + 1}`).join(", ")})`);
  return `INSERT INTO events (${EVENT_COLUMNS.join(", ")}) VALUES ${tuples.join(", ")} ON CONFLICT (tenant_id, event_id) DO NOTHING`;
}
