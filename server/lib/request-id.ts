/**
 * Request ids: every request the production server takes gets one, from the
 * caller's `x-request-id` when it is a plausible id (1–128 characters of
 * letters, digits and `._:@/+=-`), otherwise a new random one. It is echoed
 * in the answer's `x-request-id`, carried by every log line written while the
 * request is handled (an AsyncLocalStorage read by the logger's mixin), and
 * stored on the inbox rows the request wrote (events.request_id).
 *
 * The pattern keeps a caller's value from forging log structure or carrying
 * anything but an id; anything else is replaced, never rejected.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";

export const REQUEST_ID_HEADER = "x-request-id";
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function isRequestId(value: string | null | undefined): value is string {
  return typeof value === "string" && REQUEST_ID_PATTERN.test(value);
}

/** The caller's id when valid, else a fresh one. */
export function requestIdFrom(value: string | null | undefined): string {
  return isRequestId(value) ? value : randomUUID();
}

interface RequestContext {
  requestId: string;
}

const globalForContext = globalThis as unknown as { tidemarkRequestContext?: AsyncLocalStorage<RequestContext> };
// One store per process: the production server and Next.js's bundle load this module separately.
const context = (globalForContext.tidemarkRequestContext ??= new AsyncLocalStorage<RequestContext>());

/** Runs `work` as part of the request `requestId`: log lines written meanwhile carry it. */
export function withRequestId<T>(requestId: string, work: () => T): T {
  return context.run({ requestId }, work);
}

/** The id of the request being handled, if any. */
export function currentRequestId(): string | undefined {
  return context.getStore()?.requestId;
}
