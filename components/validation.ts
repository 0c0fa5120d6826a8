/**
 * The forms' side of the server's rules: typed text is turned into values
 * here, then judged by the server's own schemas (server/schemas/*), so a form
 * says what is wrong before sending by exactly the rules the server applies.
 * Only the reading of text and the wording live here; every pattern, bound
 * and default comes from the schemas. The server checks again; its answer
 * wins.
 */
import type { z } from "zod";
import {
  DEFAULT_QUOTAS,
  MAX_ROTATION_GRACE_HOURS,
  QUOTA_BOUNDS,
  ZCreateTenantInput,
  ZGraceHours,
  ZQuotas,
  ZTenantSlug,
  type QuotaField,
  type TQuotas,
} from "@/server/schemas/tenant.ts";
import { ZEmail, ZPassword } from "@/server/schemas/user.ts";

export type { QuotaField } from "@/server/schemas/tenant.ts";

/** The text of each quota input, as typed. */
export type QuotaInputs = Record<QuotaField, string>;

export function quotaInputsOf(values: TQuotas): QuotaInputs {
  return {
    ratePerSecond: String(values.ratePerSecond),
    burst: String(values.burst),
    dailyQuota: values.dailyQuota === null ? "" : String(values.dailyQuota),
    weight: String(values.weight),
    maxConcurrency: String(values.maxConcurrency),
    retentionDays: String(values.retentionDays),
  };
}

export const DEFAULT_QUOTA_INPUTS: QuotaInputs = quotaInputsOf(DEFAULT_QUOTAS);

// Fixed-locale, so hints rendered on the server read the same after hydration.
const bound = new Intl.NumberFormat("en-US");

/** A quota's allowed values in a hint: "> 0, ≤ 1,000,000" or "1–1,000". */
export function quotaRange(field: QuotaField): string {
  const bounds = QUOTA_BOUNDS[field];
  if ("greaterThan" in bounds) return `> ${bound.format(bounds.greaterThan)}, ≤ ${bound.format(bounds.max)}`;
  return `${bound.format(bounds.min)}–${bound.format(bounds.max)}`;
}

/** The lowest value a quota input offers (its `min` attribute). */
export function quotaMin(field: QuotaField): number {
  const bounds = QUOTA_BOUNDS[field];
  return "greaterThan" in bounds ? bounds.greaterThan : bounds.min;
}

export function quotaMax(field: QuotaField): number {
  return QUOTA_BOUNDS[field].max;
}

// Decimal notation only: Number() would also read "0x10" or "1_0" differently from how a person means them.
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

/** A number typed into a field, or what is wrong with the text. */
export function numberFromText(text: string): { value: number; error: null } | { value: null; error: string } {
  const trimmed = text.trim();
  if (trimmed === "") return { value: null, error: "required" };
  const value = Number(trimmed);
  if (!DECIMAL.test(trimmed) || !Number.isFinite(value)) return { value: null, error: "must be a number" };
  return { value, error: null };
}

/** What ZQuotas says of `value` for `field`, in the form's words. */
function quotaError(field: QuotaField, value: number): string | null {
  const result = ZQuotas.shape[field].safeParse(value);
  if (result.success) return null;
  const issue = result.error.issues[0] as z.core.$ZodIssue;
  if (issue.code === "invalid_type") return "must be a whole number";
  const bounds = QUOTA_BOUNDS[field];
  if ("greaterThan" in bounds) {
    return issue.code === "too_small" ? `must be greater than ${bound.format(bounds.greaterThan)}` : `must be at most ${bound.format(bounds.max)}`;
  }
  return `must be between ${bound.format(bounds.min)} and ${bound.format(bounds.max)}`;
}

const QUOTA_FIELDS = Object.keys(ZQuotas.shape) as QuotaField[];

/** Parsed quotas, or a message per invalid field. An empty daily quota means unlimited. */
export function parseQuotas(inputs: QuotaInputs): { values: TQuotas; errors: null } | { values: null; errors: Partial<Record<QuotaField, string>> } {
  const errors: Partial<Record<QuotaField, string>> = {};
  const values: Partial<Record<QuotaField, number | null>> = {};
  for (const field of QUOTA_FIELDS) {
    if (field === "dailyQuota" && inputs.dailyQuota.trim() === "") {
      values.dailyQuota = null;
      continue;
    }
    const parsed = numberFromText(inputs[field]);
    const error = parsed.error ?? quotaError(field, parsed.value as number);
    if (error) errors[field] = error;
    else values[field] = parsed.value;
  }
  if (Object.keys(errors).length > 0) return { values: null, errors };
  return { values: ZQuotas.parse(values), errors: null };
}

function firstMessage(result: z.ZodSafeParseResult<unknown>): string | null {
  return result.success ? null : (result.error.issues[0]?.message ?? "is not valid");
}

export function validateSlug(slug: string): string | null {
  if (slug === "") return "required";
  return firstMessage(ZTenantSlug.safeParse(slug));
}

/** A tenant's display name (already trimmed; empty means "the slug"). */
export function validateTenantName(name: string): string | null {
  return name === "" ? null : firstMessage(ZCreateTenantInput.shape.name.safeParse(name));
}

export function validateEmail(email: string): string | null {
  if (email.trim() === "") return "required";
  return firstMessage(ZEmail.safeParse(email.trim()));
}

export function validatePassword(password: string): string | null {
  return firstMessage(ZPassword.safeParse(password));
}

/** The grace period of a secret rotation, in hours, or the message to show. */
export function parseGraceHours(text: string): { hours: number; error: null } | { hours: null; error: string } {
  const parsed = numberFromText(text);
  if (parsed.value !== null && ZGraceHours.safeParse(parsed.value).success) return { hours: parsed.value, error: null };
  return { hours: null, error: `Grace period must be between 0 and ${MAX_ROTATION_GRACE_HOURS} hours.` };
}
