/**
 * Which database errors are worth retrying as they are. A deadlock (40P01)
 * should never happen given the lock order, but if one does it is retried
 * and counted, never swallowed.
 */
import { isDatabaseUnavailable } from "../errors.ts";

const TRANSIENT_SQLSTATES = new Set([
  "40P01", // deadlock detected
  "40001", // serialization failure
  "55P03", // lock not available
  "57014", // statement cancelled (statement_timeout)
]);

export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function isTransient(error: unknown): boolean {
  const code = sqlState(error);
  return (code !== undefined && TRANSIENT_SQLSTATES.has(code)) || isDatabaseUnavailable(error);
}

/** How a batch given back after a transient error says so in last_error (explanations read it: server/explain/explain.ts). */
export const TRANSIENT_ERROR_PREFIX = "transient error";

/** The last_error a batch gets when it is given back after transient errors: the prefix, the SQLSTATE, the message. */
export function transientErrorText(error: unknown): string {
  return `${TRANSIENT_ERROR_PREFIX} (${sqlState(error) ?? "connection"}): ${error instanceof Error ? error.message : String(error)}`;
}
