/**
 * Number, duration and time formatting for the dashboard, in the user's
 * locale. Only client components call these, after data arrived, so the
 * server's locale and time zone never leak into hydrated markup.
 */
import type { BucketName } from "@/server/stats/series.ts";

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const twoDecimals = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });

export const DASH = "—";

/** A count: 12,345. */
export function formatCount(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return integer.format(value);
}

/** A decimal quantity such as a rate: 12.5. */
export function formatDecimal(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return twoDecimals.format(value);
}

/** Axis ticks: 1.2K, 3M. */
export function formatCompact(value: number): string {
  return compact.format(value);
}

/** A latency: 0.4 ms, 12 ms, 1.3 s, 2 min 5 s. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return DASH;
  if (ms < 10) return `${twoDecimals.format(ms)} ms`;
  if (ms < 1_000) return `${integer.format(ms)} ms`;
  if (ms < 60_000) return `${oneDecimal.format(ms / 1_000)} s`;
  return formatAge(ms);
}

/** A compact latency for axis ticks: 5ms, 1.2s. */
export function formatMsTick(ms: number): string {
  if (ms < 1_000) return `${compact.format(ms)}ms`;
  if (ms < 60_000) return `${oneDecimal.format(ms / 1_000)}s`;
  if (ms < 3_600_000) return `${oneDecimal.format(ms / 60_000)}min`;
  return `${oneDecimal.format(ms / 3_600_000)}h`;
}

/** A waiting time: 12 s, 3 min 5 s, 2 h 4 min, 3 d 2 h. */
export function formatAge(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return DASH;
  const seconds = Math.floor(ms / 1_000);
  if (seconds < 60) return `${integer.format(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${integer.format(Math.floor(hours / 24))} d ${hours % 24} h`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const dateTimeShort = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const timeSeconds = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dayOnly = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const weekdayTime = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" });

function toDate(value: Date | number): Date {
  return typeof value === "number" ? new Date(value) : value;
}

/** Full local date and time, to the second. */
export function formatDateTime(value: Date | number | null | undefined): string {
  if (value === null || value === undefined) return DASH;
  return dateTime.format(toDate(value));
}

/** Local date and time to the minute, without the year. */
export function formatTimeOfDay(value: Date | number, seconds = false): string {
  return (seconds ? timeSeconds : timeOnly).format(toDate(value));
}

/** "UTC+01:00" (or "UTC") for the user's offset at that instant. */
export function utcOffset(value: Date | number = Date.now()): string {
  const minutes = -toDate(value).getTimezoneOffset();
  if (minutes === 0) return "UTC";
  const sign = minutes > 0 ? "+" : "−";
  const abs = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/** The user's IANA time zone with its current offset: "Europe/Berlin (UTC+01:00)". */
export function timeZoneLabel(at: Date | number = Date.now()): string {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const offset = utcOffset(at);
  return zone === offset || zone === "Etc/UTC" ? offset : `${zone} (${offset})`;
}

export type { BucketName };

export const BUCKET_LABEL: Record<BucketName, string> = {
  "1m": "1-minute buckets",
  "5m": "5-minute buckets",
  "1h": "1-hour buckets",
  "1d": "1-day buckets",
};

/** An axis tick for a chart spanning `spanMs`. */
export function formatTick(t: number, spanMs: number): string {
  const day = 86_400_000;
  if (spanMs <= day) return timeOnly.format(t);
  if (spanMs <= 8 * day) return weekdayTime.format(t);
  return dayOnly.format(t);
}

/** A bucket's label in tables and tooltips: its start, local. */
export function formatBucket(t: number, bucket: BucketName): string {
  if (bucket === "1d") return dayOnly.format(t);
  return dateTimeShort.format(t);
}

const precise = new Intl.NumberFormat(undefined, { maximumFractionDigits: 6 });

/** A stored value as sent, without rounding it away (up to 6 decimals). */
export function formatPrecise(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return precise.format(value);
}
