/**
 * The tenant rules both edges enforce: slug, name, quotas (and the retention
 * setting, edited beside them) and their bounds,
 * the default quotas, and how long a rotated-out secret may keep verifying.
 * The server validates its input with these schemas and the admin forms check
 * with the same ones before sending, so each rule has one home.
 *
 * Client-safe: imports only zod (no database, environment, Redis, logging or
 * node: built-ins), so browser bundles may import it.
 */
import { z } from "zod";
import { ZStorableText } from "./text.ts";

/** What a slug is, in words: the server's message and the forms' hint. */
export const SLUG_RULE = "1–63 lowercase letters, digits or dashes, not starting or ending with a dash";
export const SLUG_MAX_LENGTH = 63;

// A DNS label: it appears in webhook URLs and must stay unambiguous there.
export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const ZTenantSlug = z.string().regex(SLUG_PATTERN, `must be ${SLUG_RULE}`);

export const TENANT_NAME_MAX_LENGTH = 200;

/**
 * Each quota's bounds. The rate is a real number above 0 (a rate of 0 would
 * refuse every event; use the daily quota to stop a tenant); the others are
 * whole numbers within [min, max]. The maxima keep token-bucket arithmetic
 * and the scheduler's deficits far from float and int overflow.
 */
export const QUOTA_BOUNDS = {
  ratePerSecond: { greaterThan: 0, max: 1_000_000 },
  burst: { min: 1, max: 10_000_000 },
  dailyQuota: { min: 1, max: 10_000_000_000 },
  weight: { min: 1, max: 1_000 },
  maxConcurrency: { min: 1, max: 64 },
  /** Days processed events and tombstones are kept (server/retention); the table's CHECK says the same. */
  retentionDays: { min: 1, max: 3_650 },
} as const;

function wholeNumberIn(bounds: { min: number; max: number }) {
  return z.number().int().min(bounds.min).max(bounds.max);
}

export const ZQuotas = z.object({
  ratePerSecond: z.number().gt(QUOTA_BOUNDS.ratePerSecond.greaterThan).max(QUOTA_BOUNDS.ratePerSecond.max),
  burst: wholeNumberIn(QUOTA_BOUNDS.burst),
  /** Events per UTC day; null: unlimited. */
  dailyQuota: wholeNumberIn(QUOTA_BOUNDS.dailyQuota).nullable(),
  weight: wholeNumberIn(QUOTA_BOUNDS.weight),
  maxConcurrency: wholeNumberIn(QUOTA_BOUNDS.maxConcurrency),
  retentionDays: wholeNumberIn(QUOTA_BOUNDS.retentionDays),
});
export type TQuotas = z.infer<typeof ZQuotas>;
export type QuotaField = keyof TQuotas;

/** What a tenant created without quotas gets; the tenants table's column defaults say the same (a test holds them together). */
export const DEFAULT_QUOTAS: TQuotas = { ratePerSecond: 100, burst: 200, dailyQuota: null, weight: 1, maxConcurrency: 1, retentionDays: 30 };

export const ZCreateTenantInput = ZQuotas.partial().extend({
  slug: ZTenantSlug,
  name: z.string().trim().min(1).max(TENANT_NAME_MAX_LENGTH, `must be at most ${TENANT_NAME_MAX_LENGTH} characters`).optional(),
});
export type TCreateTenantInput = z.infer<typeof ZCreateTenantInput>;

/** How long the previous secret keeps verifying after a rotation, unless told otherwise. */
export const DEFAULT_ROTATION_GRACE_HOURS = 24;
/**
 * The longest grace: 30 days. A leaked secret that was rotated out stays
 * usable for the whole grace, so it is bounded; a month is enough for any
 * sender to switch.
 */
export const MAX_ROTATION_GRACE_HOURS = 24 * 30;

export const ZGraceHours = z.number().min(0, "must be 0 or more").max(MAX_ROTATION_GRACE_HOURS, `must be at most ${MAX_ROTATION_GRACE_HOURS} (30 days)`);

/** The most tenants one page of the overview or the tenant list holds. */
export const MAX_TENANT_PAGE_SIZE = 100;
export const DEFAULT_TENANT_PAGE_SIZE = 24;
export const TENANT_SEARCH_MAX_LENGTH = 100;

/** One page of the tenants a user may see, most urgent first: `search` (slug or name, any case) narrows them, `offset` skips that many. */
export const ZTenantPageInput = z.object({
  search: ZStorableText(TENANT_SEARCH_MAX_LENGTH).optional(),
  offset: z.number().int().min(0).max(1_000_000).default(0),
  limit: z.number().int().min(1).max(MAX_TENANT_PAGE_SIZE).default(DEFAULT_TENANT_PAGE_SIZE),
});
export type TTenantPageInput = z.infer<typeof ZTenantPageInput>;
