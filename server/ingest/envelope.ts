/**
 * The webhook envelope of DESIGN.md, validated with zod.
 *
 * parseEvent turns untrusted JSON into a ValidEvent or throws a 422 naming the
 * first failing fields. A ValidEvent is normalised (unknown keys dropped, refs
 * de-duplicated) and carries the SHA-256 of its canonical JSON: two deliveries
 * with the same id are the same event iff these hashes are equal.
 */
import { z } from "zod";
import { AppError, type ErrorDetail } from "../errors.ts";
import { canonicalJson, sha256 } from "../lib/canonical-json.ts";

export const EVENT_TYPES = ["item.created", "item.updated", "item.deleted"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const MAX_BATCH_EVENTS = 1_000;

/** Event and item ids: 1–255 visible characters, no whitespace. */
const ZId = z.string().min(1).max(255).regex(/^[\x21-\x7e]+$/, "must be 1–255 visible ASCII characters without spaces");
const ZVersion = z.number().int("must be an integer").positive("must be a positive integer").max(Number.MAX_SAFE_INTEGER);
const ZTimestamp = z.iso.datetime({ offset: true, message: "must be an ISO 8601 date-time with a zone, e.g. 2026-11-27T10:00:00Z" });

/** PostgreSQL text and jsonb cannot hold U+0000; refusing it here makes it a 422, not a failed insert. */
const ZText = (max: number) => z.string().max(max).refine((text) => !text.includes("\u0000"), "must not contain the NUL character (U+0000)");

const ZItemState = z.object({
  id: ZId,
  version: ZVersion,
  name: ZText(1_000).nullable().optional(),
  category: ZText(255).nullable().optional(),
  value: z.number().nullable().optional(),
  refs: z
    .array(ZId)
    .max(1_000)
    .optional()
    .transform((refs) => (refs === undefined ? undefined : [...new Set(refs)])),
});

const ZDeletedItem = z.object({ id: ZId, version: ZVersion });

export const ZEventBody = z.discriminatedUnion(
  "type",
  [
    z.object({ type: z.literal("item.created"), timestamp: ZTimestamp, data: ZItemState }),
    z.object({ type: z.literal("item.updated"), timestamp: ZTimestamp, data: ZItemState }),
    z.object({ type: z.literal("item.deleted"), timestamp: ZTimestamp, data: ZDeletedItem }),
  ],
  { error: () => `type must be one of ${EVENT_TYPES.join(", ")}` },
);
export type TEventBody = z.infer<typeof ZEventBody>;

export const ZBatchBody = z.object({
  events: z.array(z.unknown()).min(1, "must hold at least one event").max(MAX_BATCH_EVENTS, `must hold at most ${MAX_BATCH_EVENTS} events`),
});

export const ZEventId = ZId;

export interface ValidEvent {
  eventId: string;
  body: TEventBody;
  payloadHash: Buffer;
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
  return { eventId, body: parsed.data, payloadHash: sha256(canonicalJson(parsed.data)) };
}
