/**
 * Canonical JSON: object keys sorted at every depth, no whitespace. Two values
 * that are equal as JSON have the same canonical text, whatever the key order
 * or spacing they arrived with; the payload hash is taken over this text.
 */
import { createHash } from "node:crypto";

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((entry) => canonicalJson(entry === undefined ? null : entry)).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, entry]) => entry !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, entry]) => `${JSON.stringify(key)}:${canonicalJson(entry)}`).join(",")}}`;
}

export function sha256(text: string | Buffer): Buffer {
  return createHash("sha256").update(text).digest();
}
