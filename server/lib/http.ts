/**
 * JSON responses for route handlers, and the one mapping from thrown errors
 * to HTTP: AppErrors keep their status and code, a database outage becomes
 * 503 with Retry-After, anything else a bare 500. No stack reaches a client.
 */
import { type AppError, errorBody, toAppError } from "../errors.ts";
import { retryAfterSeconds } from "./jitter.ts";

/** How soon a client may retry after a 503: a few seconds, jittered. */
const UNAVAILABLE_RETRY_MS = 5_000;

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...headers },
  });
}

export function errorResponse(thrown: unknown): Response {
  const error: AppError = toAppError(thrown, () => retryAfterSeconds(UNAVAILABLE_RETRY_MS, Math.random));
  const headers: Record<string, string> = {};
  if (error.extra.retryAfterSeconds !== undefined) headers["retry-after"] = String(error.extra.retryAfterSeconds);
  return jsonResponse(error.status, errorBody(error), headers);
}
