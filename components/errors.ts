/**
 * What the UI needs to know about a failed tRPC call: its code (FORBIDDEN,
 * NOT_FOUND, …), its safe message, and zod's per-field messages for forms.
 * The server already hides internal details; these only read what it sent.
 */

interface ErrorShape {
  message?: unknown;
  data?: { code?: unknown; httpStatus?: unknown; zodError?: { fieldErrors?: Record<string, string[] | undefined> } | null } | null;
}

function shape(error: unknown): ErrorShape | null {
  return typeof error === "object" && error !== null ? (error as ErrorShape) : null;
}

export function errorCode(error: unknown): string | undefined {
  const code = shape(error)?.data?.code;
  return typeof code === "string" ? code : undefined;
}

export function errorStatus(error: unknown): number | undefined {
  const status = shape(error)?.data?.httpStatus;
  return typeof status === "number" ? status : undefined;
}

/** The server's message, first letter capitalised; a network failure reads as one. */
export function errorMessage(error: unknown): string {
  const message = shape(error)?.message;
  if (typeof message !== "string" || message === "") return "Something went wrong.";
  if (/fetch failed|failed to fetch|networkerror|load failed/i.test(message)) return "Could not reach the server. Check your connection and try again.";
  return message.charAt(0).toUpperCase() + message.slice(1);
}

/**
 * zod's first message per input field, when the server rejected the input,
 * keyed by the field's path ("email"). With `under`, only the fields inside
 * that part of a nested input, keyed by the rest of their path
 * (under "quotas": "quotas.weight" → "weight").
 */
export function fieldErrors(error: unknown, under?: string): Record<string, string> {
  const fields = shape(error)?.data?.zodError?.fieldErrors ?? {};
  const prefix = under === undefined ? "" : `${under}.`;
  const out: Record<string, string> = {};
  for (const [path, messages] of Object.entries(fields)) {
    if (!path.startsWith(prefix) || !messages?.[0]) continue;
    out[path.slice(prefix.length)] = messages[0];
  }
  return out;
}

/** Client errors (4xx) will not go away by asking again. */
export function isClientError(error: unknown): boolean {
  const status = errorStatus(error);
  return status !== undefined && status >= 400 && status < 500 && status !== 429;
}
