/**
 * Client-side checks that mirror the server's schemas (ZTenantSlug and
 * ZQuotas in server/tenants/service.ts, MIN_PASSWORD_LENGTH in
 * server/auth/password.ts), so a form says what is wrong before sending.
 * The server checks again; its answer wins.
 */

export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const SLUG_MESSAGE = "1–63 lowercase letters, digits or dashes, not starting or ending with a dash";
export const MIN_PASSWORD_LENGTH = 12;

export function isValidSlug(slug: string): boolean {
  return SLUG_PATTERN.test(slug);
}

export interface QuotaValues {
  ratePerSecond: number;
  burst: number;
  dailyQuota: number | null;
  weight: number;
  maxConcurrency: number;
}

export type QuotaField = keyof QuotaValues;

/** The text of each quota input, as typed. */
export type QuotaInputs = Record<QuotaField, string>;

export const DEFAULT_QUOTA_INPUTS: QuotaInputs = { ratePerSecond: "100", burst: "200", dailyQuota: "", weight: "1", maxConcurrency: "2" };

export function quotaInputsOf(values: QuotaValues): QuotaInputs {
  return {
    ratePerSecond: String(values.ratePerSecond),
    burst: String(values.burst),
    dailyQuota: values.dailyQuota === null ? "" : String(values.dailyQuota),
    weight: String(values.weight),
    maxConcurrency: String(values.maxConcurrency),
  };
}

const INTEGER = /^-?\d+$/;

function integerIn(text: string, min: number, max: number): number | string {
  const trimmed = text.trim();
  if (trimmed === "") return "required";
  if (!INTEGER.test(trimmed)) return "must be a whole number";
  const value = Number(trimmed);
  if (value < min || value > max) return `must be between ${min.toLocaleString()} and ${max.toLocaleString()}`;
  return value;
}

/** Parsed quotas, or a message per invalid field. */
export function parseQuotas(inputs: QuotaInputs): { values: QuotaValues; errors: null } | { values: null; errors: Partial<Record<QuotaField, string>> } {
  const errors: Partial<Record<QuotaField, string>> = {};

  let ratePerSecond = Number.NaN;
  const rateText = inputs.ratePerSecond.trim();
  if (rateText === "") errors.ratePerSecond = "required";
  else {
    ratePerSecond = Number(rateText);
    if (!Number.isFinite(ratePerSecond)) errors.ratePerSecond = "must be a number";
    else if (ratePerSecond <= 0) errors.ratePerSecond = "must be greater than 0";
    else if (ratePerSecond > 1_000_000) errors.ratePerSecond = "must be at most 1,000,000";
  }

  const burst = integerIn(inputs.burst, 1, 10_000_000);
  if (typeof burst === "string") errors.burst = burst;
  const dailyQuota = inputs.dailyQuota.trim() === "" ? null : integerIn(inputs.dailyQuota, 1, 10_000_000_000);
  if (typeof dailyQuota === "string") errors.dailyQuota = dailyQuota;
  const weight = integerIn(inputs.weight, 1, 1_000);
  if (typeof weight === "string") errors.weight = weight;
  const maxConcurrency = integerIn(inputs.maxConcurrency, 1, 64);
  if (typeof maxConcurrency === "string") errors.maxConcurrency = maxConcurrency;

  if (Object.keys(errors).length > 0) return { values: null, errors };
  return {
    values: {
      ratePerSecond,
      burst: burst as number,
      dailyQuota: dailyQuota as number | null,
      weight: weight as number,
      maxConcurrency: maxConcurrency as number,
    },
    errors: null,
  };
}

export function validateSlug(slug: string): string | null {
  if (slug === "") return "required";
  return SLUG_PATTERN.test(slug) ? null : `must be ${SLUG_MESSAGE}`;
}

export function validateEmail(email: string): string | null {
  if (email.trim() === "") return "required";
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim()) ? null : "must be an email address";
}
