/**
 * The event contract (docs/design.md, "Events"): what an event is, whoever
 * delivers it (a webhook, a batch, the pull collector) and whoever applies it.
 *
 * Everything that can pass these schemas can be stored and applied: a value
 * PostgreSQL cannot hold (NUL or a lone surrogate in text, the year 0000) fails here, as a validation error
 * naming the field, never later as a failed insert. The core, the ingestion
 * edge and the workers all take their types from this module, so there is
 * one definition of an event and of its outcomes.
 */
import { z } from "zod";
import { ZStorableText } from "../schemas/text.ts";

export const EVENT_TYPES = ["item.created", "item.updated", "item.deleted"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * Every outcome an event can end with, in the order the dashboard lists
 * them. Each stored event ends with exactly one.
 */
export const OUTCOMES = ["applied", "stale", "duplicate", "rejected", "dead"] as const;
export type Outcome = (typeof OUTCOMES)[number];
/** The outcomes applying an event can give; `dead` is given by the failure policy instead. */
export type ApplyOutcome = Exclude<Outcome, "dead">;

/** Event ids travel in an HTTP header (webhook-id): 1–255 visible ASCII characters, no whitespace. */
export const EVENT_ID_RULE = "must be 1–255 visible ASCII characters without spaces";
export const ZEventId = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, EVENT_ID_RULE);

/**
 * Item ids are the tenant's own keys: 1–255 Unicode characters (code points),
 * anything but NUL, the other C0 controls and lone surrogates ("user 42",
 * "ünïcødé-🐳" and "'; DROP TABLE x; --" are ordinary ids). They compare by
 * code point everywhere (lock-order.ts compareIds; COLLATE "C" in SQL).
 */
export const ITEM_ID_RULE = "must be 1–255 Unicode characters without control characters (U+0000–U+001F) or lone surrogates";
const ZItemId = z.string().regex(/^[^\u0000-\u001f\p{Cs}]{1,255}$/u, ITEM_ID_RULE);
const ZVersion = z.number().int("must be an integer").positive("must be a positive integer").max(Number.MAX_SAFE_INTEGER);

/**
 * What PostgreSQL's timestamptz can parse, within zod's ISO pattern (years
 * 0000–9999, offsets ±00:00–±99:59): no year 0000, and offsets of at most
 * ±15:59. An offset may still move the instant into 1 BC or AD 10000, both
 * of which PostgreSQL holds.
 */
const ZTimestamp = z.iso
  .datetime({ offset: true, message: "must be an ISO 8601 date-time with a zone, e.g. 2026-11-27T10:00:00Z" })
  .refine((text) => !text.startsWith("0000"), "must be in the years 0001–9999")
  .refine((text) => !/[+-](?:1[6-9]|[2-9]\d):\d\d$/.test(text), "must have a UTC offset of at most ±15:59");

/** PostgreSQL text and jsonb cannot hold U+0000 or a lone surrogate; refusing them here makes them a 422, not a failed insert. */
const ZText = ZStorableText;

/** An item's full state at a version: the `data` of a created or updated event. */
export const ZItemState = z.object({
  id: ZItemId,
  version: ZVersion,
  name: ZText(1_000).nullable().optional(),
  category: ZText(255).nullable().optional(),
  value: z.number().nullable().optional(),
  refs: z
    .array(ZItemId)
    .max(1_000)
    .optional()
    .transform((refs) => (refs === undefined ? undefined : [...new Set(refs)])),
});

const ZDeletedItem = z.object({ id: ZItemId, version: ZVersion });

/**
 * `thin: true` on a created or updated event: "this item changed, fetch it"
 * (docs/design.md, "Thin events"). `false` is the same as absent.
 */
const ZThin = z.boolean("must be true or false").optional();
/** The state fields a thin event must not carry: its state is whatever the item API answers. */
const STATE_FIELDS = ["name", "category", "value", "refs"] as const;

/**
 * An event as stored and applied: {type, timestamp, data}, and `thin: true`
 * for a thin created or updated event, whose data is only {id, version}.
 * (`thin` on a delete is dropped: a delete needs nothing fetched.)
 */
export const ZEventBody = z
  .discriminatedUnion(
    "type",
    [
      z.object({ type: z.literal("item.created"), thin: ZThin, timestamp: ZTimestamp, data: ZItemState }),
      z.object({ type: z.literal("item.updated"), thin: ZThin, timestamp: ZTimestamp, data: ZItemState }),
      z.object({ type: z.literal("item.deleted"), timestamp: ZTimestamp, data: ZDeletedItem }),
    ],
    { error: () => `type must be one of ${EVENT_TYPES.join(", ")}` },
  )
  .superRefine((body, context) => {
    if (body.type === "item.deleted" || body.thin !== true) return;
    for (const field of STATE_FIELDS) {
      if (body.data[field] !== undefined) context.addIssue({ code: "custom", path: ["data", field], message: "a thin event carries only id and version" });
    }
  })
  .transform((body) => {
    if (body.type === "item.deleted" || body.thin !== false) return body;
    const { thin: _notThin, ...full } = body;
    return full;
  });
export type TEventBody = z.infer<typeof ZEventBody>;

/** A thin event: its item's state is to be fetched from the tenant's item API. */
export function isThin(body: TEventBody): boolean {
  return "thin" in body && body.thin === true;
}
