/**
 * A tenant's item API, for thin events: `GET {itemUrl}/{urlencoded id}`,
 * with the source's bearer token when it has one, answering the item's
 * state `{"id","version","name","category","value","refs"}`, or 404 when the
 * item is gone.
 *
 * Guarantees:
 * - Every way a fetch can fail ends as an ItemFetchFailure with a kind (the
 *   metric's label) and a message for the event's last_error; the message
 *   never holds the token or the response body.
 * - The whole fetch is bounded by the timeout and the body by a byte limit
 *   enforced while reading; redirects are refused (a redirect would carry
 *   the token elsewhere).
 * - A 2xx answer is a state only if it passes the event schema's item state
 *   (ZItemState, the same rules as a full event's data) and names the item
 *   asked for; anything else is `malformed`.
 */
import { ZItemState } from "../core/event.ts";
import { AppError } from "../errors.ts";
import { readBodyWithLimit } from "../lib/body.ts";
import { log } from "../log.ts";

export type ItemFetchFailureKind = "http_error" | "timeout" | "network" | "malformed" | "too_large" | "no_item_api";

export class ItemFetchFailure extends Error {
  override name = "ItemFetchFailure";

  constructor(
    readonly kind: ItemFetchFailureKind,
    message: string,
  ) {
    super(message);
  }
}

/** An item's state as its API answers it (and as it is applied). */
export interface FetchedItemState {
  id: string;
  version: number;
  name?: string | null;
  category?: string | null;
  value?: number | null;
  refs?: string[];
}

export type ItemAnswer = { found: true; state: FetchedItemState } | { found: false };

/** Where a tenant's items are fetched from. */
export interface ItemApi {
  itemUrl: string;
  token: string | null;
}

/** An item's state is small; an answer larger than this is not one. */
export const ITEM_MAX_BYTES = 1024 * 1024;

/** `{itemUrl}/{urlencoded id}`: the id is one path segment whatever it holds (a slash, a space, '?', '#'), the URL's own query kept. */
export function itemRequestUrl(itemUrl: string, itemId: string): string {
  const target = new URL(itemUrl);
  target.pathname = `${target.pathname.replace(/\/+$/, "")}/${encodeURIComponent(itemId)}`;
  return target.toString();
}

function describeNetworkError(error: Error): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const detail = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" ? cause.message : error.message;
  return `could not reach the item API (${detail})`;
}

export interface ItemRequest extends ItemApi {
  itemId: string;
  timeoutMs: number;
  maxBytes?: number;
}

/** Fetches one item's state; throws ItemFetchFailure for anything that is neither a good state nor a 404. */
export async function fetchItem(request: ItemRequest): Promise<ItemAnswer> {
  const maxBytes = request.maxBytes ?? ITEM_MAX_BYTES;
  const timeout = AbortSignal.timeout(request.timeoutMs);
  const headers: Record<string, string> = { accept: "application/json", "user-agent": "tidemark-thin-events" };
  if (request.token !== null) headers.authorization = `Bearer ${request.token}`;
  let body: Buffer;
  try {
    const response = await fetch(itemRequestUrl(request.itemUrl, request.itemId), { headers, signal: timeout, redirect: "manual" });
    if (response.status < 200 || response.status > 299) {
      // Not read: an error page is neither needed nor trusted. Cancel frees the connection.
      await response.body?.cancel().catch((error: Error) => log.debug({ module: "thin", err: error.message }, "could not cancel an error answer's body"));
      if (response.status === 404) return { found: false };
      const redirect = response.status >= 300 && response.status < 400 ? " (redirects are not followed)" : "";
      throw new ItemFetchFailure(
        "http_error",
        `the item API answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}${redirect}`,
      );
    }
    body = await readBodyWithLimit(response, maxBytes);
  } catch (error) {
    if (error instanceof ItemFetchFailure) throw error;
    if (error instanceof AppError && error.code === "payload_too_large")
      throw new ItemFetchFailure("too_large", `the item's state is larger than ${maxBytes} bytes`);
    if (timeout.aborted) throw new ItemFetchFailure("timeout", `no complete answer from the item API within ${request.timeoutMs} ms`);
    throw new ItemFetchFailure("network", describeNetworkError(error as Error));
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    throw new ItemFetchFailure("malformed", "the item API's answer is not valid JSON");
  }
  const parsed = ZItemState.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join(".") : "(body)";
    throw new ItemFetchFailure("malformed", `the item API's answer is not an item state: ${where}: ${issue?.message ?? "invalid"}`);
  }
  if (parsed.data.id !== request.itemId) throw new ItemFetchFailure("malformed", "the item API answered with another item's id");
  return { found: true, state: parsed.data };
}
