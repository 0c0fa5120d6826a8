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

/** zod's messages per input field, when the server rejected the input. */
export function fieldErrors(error: unknown): Record<string, string> {
  const fields = shape(error)?.data?.zodError?.fieldErrors ?? {};
  const out: Record<string, string> = {};
  for (const [key, messages] of Object.entries(fields)) {
    if (messages && messages[0]) out[key] = messages[0];
  }
  return out;
}

/** Client errors (4xx) will not go away by asking again. */
export function isClientError(error: unknown): boolean {
  const status = errorStatus(error);
  return status !== undefined && status >= 400 && status < 500 && status !== 429;
}
