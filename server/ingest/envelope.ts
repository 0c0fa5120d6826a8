/**
 * Webhook parsing: untrusted JSON in, a ValidEvent (the event contract of
 * server/core/event.ts, plus what storage needs) out.
 *
 * parseEvent turns untrusted JSON into a ValidEvent or throws a 422 naming the
 * first failing fields. A ValidEvent is normalised (unknown keys dropped, refs
 * de-duplicated) and carries the SHA-256 of its canonical JSON: two deliveries
 * with the same id are the same event iff these hashes are equal. That
 * canonical JSON is also what is stored (jsonb keeps no key order or
 * spacing, so storing it is storing the parsed body).
 */
import { z } from "zod";
import { AppError, type ErrorDetail } from "../errors.ts";
import { sha256 } from "../lib/canonical-json.ts";
import { EVENT_ID_RULE, ZEventBody, ZEventId, type TEventBody } from "../core/event.ts";

export const MAX_BATCH_EVENTS = 1_000;

export const ZBatchBody = z.object({
  events: z.array(z.unknown()).min(1, "must hold at least one event").max(MAX_BATCH_EVENTS, `must hold at most ${MAX_BATCH_EVENTS} events`),
});

export interface ValidEvent {
  eventId: string;
  body: TEventBody;
  payloadHash: Buffer;
  /** The body's canonical JSON, when parseEvent made it: stored as the payload as is, so the body is serialised once. */
  payload?: string;
  /** The request that brought it (server/lib/request-id.ts), stored as events.request_id. */
  requestId?: string;
}

export function zodDetails(error: z.ZodError): ErrorDetail[] {
  return error.issues.slice(0, 10).map((issue) => ({
    path: issue.path.length > 0 ? issue.path.join(".") : "(body)",
    message: issue.message,
  }));
}

export function invalidEvent(details: ErrorDetail[]): AppError {
  const summary = details.map((detail) => `${detail.path}: ${detail.message}`).join("; ");
  return new AppError("invalid_event", `event failed validation: ${summary}`, { details });
}

/** Validates one event body delivered under `eventId`. */
export function parseEvent(eventId: string, json: unknown): ValidEvent {
  const id = ZEventId.safeParse(eventId);
  if (!id.success) throw invalidEvent(zodDetails(id.error).map((detail) => ({ ...detail, path: "id" })));
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw invalidEvent([{ path: "(body)", message: "must be a JSON object" }]);
  }
  const parsed = ZEventBody.safeParse(json);
  if (!parsed.success) throw invalidEvent(zodDetails(parsed.error));
  const payload = canonicalEventJson(parsed.data);
  return { eventId, body: parsed.data, payloadHash: sha256(payload), payload };
}

const text = (value: string | number | null) => JSON.stringify(value);

/**
 * canonicalJson(body) for a parsed event body, written out for its known
 * shape (keys in sorted order, absent and undefined keys left out) instead
 * of sorting keys at every level: a few times faster on the hot path, and
 * equal to canonicalJson for every body (envelope.test.ts checks it on
 * arbitrary bodies).
 */
export function canonicalEventJson(body: TEventBody): string {
  const data = body.data as { id: string; version: number; name?: string | null; category?: string | null; value?: number | null; refs?: string[] };
  let out = "{";
  if (data.category !== undefined) out += `"category":${text(data.category)},`;
  out += `"id":${text(data.id)}`;
  if (data.name !== undefined) out += `,"name":${text(data.name)}`;
  if (data.refs !== undefined) out += `,"refs":[${data.refs.map(text).join(",")}]`;
  if (data.value !== undefined) out += `,"value":${text(data.value)}`;
  out += `,"version":${text(data.version)}}`;
  // "thin" sorts between "data" and "timestamp"; a parsed body has it only when true (ZEventBody drops false).
  const thin = "thin" in body && typeof body.thin === "boolean" ? `"thin":${String(body.thin)},` : "";
  return `{"data":${out},${thin}"timestamp":${text(body.timestamp)},"type":${text(body.type)}}`;
}

/**
 * Validates one element of a batch's (or a pulled page's) `events`: an
 * envelope carrying its own `id`. Throws a 422 AppError naming the field; the
 * id is returned when it was valid, so a caller can report which event failed.
 */
export function parseBatchEvent(raw: unknown): ValidEvent {
  const rawId = typeof raw === "object" && raw !== null ? (raw as { id?: unknown }).id : undefined;
  if (typeof rawId !== "string" || !ZEventId.safeParse(rawId).success) {
    throw invalidEvent([{ path: "id", message: EVENT_ID_RULE }]);
  }
  return parseEvent(rawId, raw);
}
