/**
 * HTTP answers, framework-free, and the one mapping from thrown errors to
 * HTTP: AppErrors keep their status and code, a database outage becomes 503
 * with Retry-After, anything else a bare 500. No stack reaches a client.
 *
 * An HttpReply is plain data ({status, headers, body}) so that the same
 * handler can answer through Next.js (toResponse) and through node:http
 * (server/http/fast-path.ts) without either converting to the other.
 */
import { type AppError, errorBody, toAppError } from "../errors.ts";
import { retryAfterSeconds } from "./jitter.ts";

/** How soon a client may retry after a 503: a few seconds, jittered. */
const UNAVAILABLE_RETRY_MS = 5_000;

export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  /** The body, already serialised. */
  body: string;
}

export function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}): HttpReply {
  return { status, headers: { "content-type": "application/json", "cache-control": "no-store", ...headers }, body: JSON.stringify(body) };
}

export function errorReply(thrown: unknown): HttpReply {
  const error: AppError = toAppError(thrown, () => retryAfterSeconds(UNAVAILABLE_RETRY_MS, Math.random));
  const headers: Record<string, string> = {};
  if (error.extra.retryAfterSeconds !== undefined) headers["retry-after"] = String(error.extra.retryAfterSeconds);
  return jsonReply(error.status, errorBody(error), headers);
}

export function toResponse(reply: HttpReply): Response {
  return new Response(reply.body, { status: reply.status, headers: reply.headers });
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return toResponse(jsonReply(status, body, headers));
}

export function errorResponse(thrown: unknown): Response {
  return toResponse(errorReply(thrown));
}
