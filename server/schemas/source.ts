/**
 * The rules of a tenant's source (pull mode), which the CLI, the admin
 * procedures and the admin form all check with these schemas: URLs, the
 * bearer token, the poll interval and the page size, with their bounds and
 * defaults.
 *
 * URLs may be any http or https URL, loopback and private addresses
 * included: only admins set sources, and they are trusted to point Tidemark
 * at their own systems. A URL may not carry a user name or password, because
 * URLs are shown back (status, dashboard) and credentials belong in the
 * token, which never is.
 *
 * Client-safe: imports only zod.
 */
import { z } from "zod";

export const SOURCE_URL_MAX_LENGTH = 2_048;
export const SOURCE_TOKEN_MAX_LENGTH = 4_096;

export const SOURCE_BOUNDS = {
  intervalMs: { min: 100, max: 86_400_000 },
  /** The batch endpoint's bound: a page is at most one batch. */
  pageSize: { min: 1, max: 1_000 },
} as const;

export const SOURCE_DEFAULTS = { intervalMs: 5_000, pageSize: 100 } as const;

export const ZSourceUrl = z
  .string()
  .trim()
  .min(1, "required")
  .max(SOURCE_URL_MAX_LENGTH, `must be at most ${SOURCE_URL_MAX_LENGTH} characters`)
  .refine((text) => URL.canParse(text), "must be an absolute http:// or https:// URL")
  .refine((text) => !URL.canParse(text) || ["http:", "https:"].includes(new URL(text).protocol), "must be an http:// or https:// URL")
  .refine(
    (text) => !URL.canParse(text) || (new URL(text).username === "" && new URL(text).password === ""),
    "must not hold a user name or password; use the token",
  )
  .refine((text) => !URL.canParse(text) || new URL(text).hash === "", "must not have a #fragment");

/** A bearer token travels in a header: visible ASCII, no spaces, so it can neither break nor smuggle a header. */
export const ZSourceToken = z
  .string()
  .min(1, "must not be empty")
  .max(SOURCE_TOKEN_MAX_LENGTH, `must be at most ${SOURCE_TOKEN_MAX_LENGTH} characters`)
  .regex(/^[\x21-\x7e]+$/, "must be visible ASCII characters without spaces");

const wholeNumberIn = (bounds: { min: number; max: number }) =>
  z.number().int("must be a whole number").min(bounds.min, `must be at least ${bounds.min}`).max(bounds.max, `must be at most ${bounds.max}`);

export const ZSourceIntervalMs = wholeNumberIn(SOURCE_BOUNDS.intervalMs);
export const ZSourcePageSize = wholeNumberIn(SOURCE_BOUNDS.pageSize);

/**
 * Setting a source. For an existing source an omitted field keeps its value
 * (a new one gets the defaults); `token` and `itemUrl` null remove them.
 */
export const ZSetSourceInput = z.object({
  url: ZSourceUrl,
  token: ZSourceToken.nullable().optional(),
  intervalMs: ZSourceIntervalMs.optional(),
  pageSize: ZSourcePageSize.optional(),
  itemUrl: ZSourceUrl.nullable().optional(),
});
export type TSetSourceInput = z.infer<typeof ZSetSourceInput>;
