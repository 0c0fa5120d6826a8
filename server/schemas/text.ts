/**
 * What PostgreSQL can store as text: the one rule every edge checks before a
 * string reaches a query, so input the database would refuse is a 4xx naming
 * the field, never a failed statement and a 500. PostgreSQL's text and jsonb
 * hold no U+0000, and a lone surrogate has no UTF-8 form (jsonb refuses its
 * `\ud800` escape).
 *
 * Client-safe: imports only zod.
 */
import { z } from "zod";

/** Why PostgreSQL's text and jsonb would refuse `text`, or null if they can hold it. */
export function unstorableText(text: string): string | null {
  if (text.includes("\u0000")) return "must not contain the NUL character (U+0000)";
  if (/\p{Cs}/u.test(text)) return "must not contain a lone surrogate (invalid UTF-16)";
  return null;
}

/** A zod string of at most `max` UTF-16 code units that PostgreSQL can store. */
export const ZStorableText = (max: number) =>
  z
    .string()
    .max(max)
    .superRefine((text, context) => {
      const problem = unstorableText(text);
      if (problem) context.addIssue({ code: "custom", message: problem });
    });

export interface UnstorableFound {
  /** Where, as a path of keys and indexes; a key that is itself unstorable is named by its own path. */
  path: (string | number)[];
  message: string;
}

/**
 * The first string in `value` (any depth, keys included) that PostgreSQL
 * could not store, or null. Depth is bounded: JSON parsed from a bounded
 * body cannot nest deeper than its length, and 64 levels is more than any
 * input of ours has.
 */
export function findUnstorable(value: unknown, path: (string | number)[] = []): UnstorableFound | null {
  if (typeof value === "string") {
    const message = unstorableText(value);
    return message ? { path, message } : null;
  }
  if (value === null || typeof value !== "object" || path.length > 64) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorable(value[i], [...path, i]);
      if (found) return found;
    }
    return null;
  }
  for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
    const keyProblem = unstorableText(key);
    if (keyProblem) return { path: [...path, key], message: `key ${keyProblem}` };
    const found = findUnstorable(entry, [...path, key]);
    if (found) return found;
  }
  return null;
}
