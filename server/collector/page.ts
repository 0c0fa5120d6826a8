/**
 * Fetching one page from a source: `GET {url}?limit={n}` (first page) or
 * `GET {url}?cursor={c}&limit={n}`, bearer token if the source has one, and
 * the answer checked against the pull contract
 * `{"events": [...], "next_cursor": "…", "has_more": true|false}`.
 *
 * Every way a fetch can fail ends as a PageFailure with a kind (the metric's
 * label) and a message for `lastError`; the message never holds the token or
 * the response body. The whole fetch (connect, headers, body) is bounded by
 * the timeout, the body by a byte limit enforced while reading, and
 * redirects are refused (a redirect would carry the token elsewhere).
 *
 * Each event of a good page is validated exactly as a batch event is
 * (parseBatchEvent); an invalid one is returned beside the valid ones, so
 * the caller can count it and move on instead of failing the page.
 */
import { z } from "zod";
import { AppError } from "../errors.ts";
import { parseBatchEvent, MAX_BATCH_EVENTS, type ValidEvent } from "../ingest/envelope.ts";
import { readBodyWithLimit } from "../lib/body.ts";
import { unstorableText } from "../schemas/text.ts";
import { log } from "../log.ts";
import type { InvalidPulledEvent } from "./source-state.ts";

export const CURSOR_MAX_LENGTH = 4_096;

export type FailureKind = "http_error" | "timeout" | "network" | "malformed" | "too_large" | "stuck_cursor";

export class PageFailure extends Error {
  override name = "PageFailure";

  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
  }
}

const ZPage = z.object({
  events: z.array(z.unknown()).max(MAX_BATCH_EVENTS, `must hold at most ${MAX_BATCH_EVENTS} events`),
  // Stored as sent and sent back: text PostgreSQL cannot hold (NUL; a lone surrogate, which would be stored as U+FFFD) makes the page malformed.
  next_cursor: z
    .string()
    .min(1, "must not be empty")
    .max(CURSOR_MAX_LENGTH, `must be at most ${CURSOR_MAX_LENGTH} characters`)
    .refine((cursor) => unstorableText(cursor) === null, "must not contain NUL or a lone surrogate")
    .nullable(),
  has_more: z.boolean(),
});

export interface FetchedPage {
  /** The upstream's next_cursor; null when it sent none (allowed only with has_more false). */
  nextCursor: string | null;
  hasMore: boolean;
  events: ValidEvent[];
  invalid: InvalidPulledEvent[];
}

export interface PageRequest {
  url: string;
  cursor: string | null;
  limit: number;
  token: string | null;
  timeoutMs: number;
  maxBytes: number;
  /** Aborts the fetch when the collector stops. */
  signal?: AbortSignal;
}

/** The page URL: the source's URL with `cursor` and `limit` set (its own query parameters kept). */
export function pageUrl(url: string, cursor: string | null, limit: number): string {
  const target = new URL(url);
  if (cursor === null) target.searchParams.delete("cursor");
  else target.searchParams.set("cursor", cursor);
  target.searchParams.set("limit", String(limit));
  return target.toString();
}

function describeNetworkError(error: Error): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const detail = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" ? cause.message : error.message;
  return `could not reach the source (${detail})`;
}

async function get(request: PageRequest): Promise<Buffer> {
  const timeout = AbortSignal.timeout(request.timeoutMs);
  const signal = request.signal ? AbortSignal.any([timeout, request.signal]) : timeout;
  const headers: Record<string, string> = { accept: "application/json", "user-agent": "tidemark-collector" };
  if (request.token !== null) headers.authorization = `Bearer ${request.token}`;
  try {
    const response = await fetch(pageUrl(request.url, request.cursor, request.limit), { headers, signal, redirect: "manual" });
    if (response.status < 200 || response.status > 299) {
      // Not read: the body of an error page is neither needed nor trusted. Cancel frees the connection.
      await response.body?.cancel().catch((error: Error) => log.debug({ module: "collector", err: error.message }, "could not cancel an error page's body"));
      const redirect = response.status >= 300 && response.status < 400 ? " (redirects are not followed)" : "";
      throw new PageFailure("http_error", `the source answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}${redirect}`);
    }
    return await readBodyWithLimit(response, request.maxBytes);
  } catch (error) {
    if (error instanceof PageFailure) throw error;
    if (error instanceof AppError && error.code === "payload_too_large")
      throw new PageFailure("too_large", `the page is larger than ${request.maxBytes} bytes`);
    if (timeout.aborted) throw new PageFailure("timeout", `no complete answer within ${request.timeoutMs} ms`);
    if (request.signal?.aborted) throw new PageFailure("network", "the collector stopped during the fetch");
    throw new PageFailure("network", describeNetworkError(error as Error));
  }
}

/** Fetches and checks one page; throws PageFailure for anything that is not a good page. */
export async function fetchPage(request: PageRequest): Promise<FetchedPage> {
  const body = await get(request);
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    throw new PageFailure("malformed", "the page is not valid JSON");
  }
  const page = ZPage.safeParse(json);
  if (!page.success) {
    const issue = page.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join(".") : "(page)";
    throw new PageFailure("malformed", `the page is not {"events","next_cursor","has_more"}: ${where}: ${issue?.message ?? "invalid"}`);
  }
  const { events, next_cursor: nextCursor, has_more: hasMore } = page.data;
  if (hasMore && (nextCursor === null || nextCursor === request.cursor)) {
    throw new PageFailure(
      "stuck_cursor",
      `the page says has_more but its next_cursor ${nextCursor === null ? "is missing" : "equals the cursor it was fetched with"}`,
    );
  }

  const valid: ValidEvent[] = [];
  const invalid: InvalidPulledEvent[] = [];
  for (const raw of events) {
    try {
      valid.push(parseBatchEvent(raw));
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      const rawId = typeof raw === "object" && raw !== null ? (raw as { id?: unknown }).id : undefined;
      invalid.push({ id: typeof rawId === "string" && rawId.length <= 255 ? rawId : null, message: error.message });
    }
  }
  return { nextCursor, hasMore, events: valid, invalid };
}
