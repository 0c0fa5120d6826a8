"use client";
// A point in time in the reader's locale; the exact UTC instant is in the title and the datetime attribute.
import { DASH, formatDateTime } from "../format.ts";

export function Time({ value, format = formatDateTime }: { value: Date | number | null | undefined; format?: (value: Date) => string }) {
  if (value === null || value === undefined) return <span className="muted">{DASH}</span>;
  const date = typeof value === "number" ? new Date(value) : value;
  const iso = date.toISOString();
  return (
    <time dateTime={iso} title={iso.replace("T", " ").replace("Z", " UTC")} className="nowrap">
      {format(date)}
    </time>
  );
}
