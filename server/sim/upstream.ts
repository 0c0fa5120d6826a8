/**
 * The simulated upstream: a tenant's API serving the pull contract and the
 * thin-event item API, over the seeded feed of ./feed.ts.
 *
 *   GET /api/sim/{feed}/events?cursor=…&limit=…  → {"events","next_cursor","has_more"}
 *   GET /api/sim/{feed}/items/{urlencoded id}    → {"id","version","name","category","value","refs"} or 404
 *
 * `{feed}` names the feed ("demo", "seed-7-rate-20", "seed-7-total-5000"),
 * so the URL alone says what is served. The same answers come from the app
 * (app/api/sim/…, the demo tenant's source) and from `npm run sim -- serve`
 * (startSimServer below), which can also require a bearer token, add
 * latency, log every request it was asked (the race tests read the cursors
 * from it) and inject faults, one per request, for the fault tests.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { decodeCursor, feedPage, itemState, parseFeedSpec, type FeedSpec, feedSpecName } from "./feed.ts";

export interface SimAnswer {
  status: number;
  body: unknown;
}

const MAX_LIMIT = 1_000;
const DEFAULT_LIMIT = 100;

const error = (status: number, code: string, message: string): SimAnswer => ({ status, body: { error: { code, message } } });

export function feedAnswer(feed: string, params: URLSearchParams, nowMs: number): SimAnswer {
  const spec = parseFeedSpec(feed);
  if (!spec) return error(404, "not_found", `no feed ${JSON.stringify(feed)}; try "demo", "seed-1-rate-10" or "seed-1-total-5000"`);
  const limitText = params.get("limit");
  const limit = limitText === null ? DEFAULT_LIMIT : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) return error(400, "bad_request", `limit must be a whole number from 1 to ${MAX_LIMIT}`);
  const result = feedPage(spec, params.get("cursor"), limit, nowMs);
  if (!result) return error(400, "bad_request", "cursor was not issued by this feed");
  return { status: 200, body: result.page };
}

export function itemAnswer(feed: string, itemId: string, nowMs: number): SimAnswer {
  const spec = parseFeedSpec(feed);
  if (!spec) return error(404, "not_found", `no feed ${JSON.stringify(feed)}`);
  const state = itemState(spec, itemId, nowMs);
  return state ? { status: 200, body: state } : error(404, "not_found", "no such item");
}

/** Routes a path of the layout above; null when it is not one. */
export function simAnswer(url: URL, nowMs: number): SimAnswer | null {
  const events = /^\/api\/sim\/([^/]+)\/events$/.exec(url.pathname);
  if (events) return feedAnswer(decodeURIComponent(events[1] as string), url.searchParams, nowMs);
  const item = /^\/api\/sim\/([^/]+)\/items\/([^/]+)$/.exec(url.pathname);
  if (item) return itemAnswer(decodeURIComponent(item[1] as string), decodeURIComponent(item[2] as string), nowMs);
  return null;
}

// --- the standalone server ---------------------------------------------------

/** One injected fault, used up by the next feed request. */
export type Fault =
  | { kind: "status"; status: number }
  /** Answers only after `ms` (a timeout, when longer than the collector's). */
  | { kind: "hang"; ms: number }
  /** A body that is not the page shape (`json: false`: not even JSON). */
  | { kind: "malformed"; json?: boolean }
  /** has_more true with next_cursor equal to the cursor asked for (null on a first page). */
  | { kind: "stuck" }
  /** The real page with this event added at its start. */
  | { kind: "extra-event"; event: unknown }
  /** The real page padded to at least `bytes`. */
  | { kind: "oversize"; bytes: number };

export interface SimRequest {
  /** When it arrived (epoch ms). */
  at: number;
  path: string;
  cursor: string | null;
  /** The position the cursor names; null for a first page (no cursor). */
  position: number | null;
  limit: string | null;
  status: number;
  /** The request carried the expected bearer token (always true when none is required). */
  authorized: boolean;
  fault: Fault["kind"] | null;
}

export interface SimServerOptions {
  port?: number;
  host?: string;
  /** Require `authorization: Bearer <token>`; 401 otherwise. */
  token?: string;
  /** Delay before every answer, ms. */
  latencyMs?: number;
  now?: () => number;
}

export interface SimServer {
  url: string;
  feedUrl(spec: FeedSpec): string;
  itemUrl(spec: FeedSpec): string;
  /** Every request so far, in arrival order. */
  readonly requests: SimRequest[];
  /** The most feed requests that were ever in flight at once. */
  readonly maxInFlight: number;
  inject(...faults: Fault[]): void;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startSimServer(options: SimServerOptions = {}): Promise<SimServer> {
  const now = options.now ?? Date.now;
  const requests: SimRequest[] = [];
  const faults: Fault[] = [];
  let inFlight = 0;
  let maxInFlight = 0;

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://sim.local");
    const isFeed = /\/events$/.test(url.pathname);
    const authorized = options.token === undefined || req.headers.authorization === `Bearer ${options.token}`;
    const cursor = url.searchParams.get("cursor");
    const fault = isFeed && authorized ? (faults.shift() ?? null) : null;
    const entry: SimRequest = {
      at: Date.now(),
      path: url.pathname,
      cursor,
      position: cursor === null ? null : decodeCursor(cursor),
      limit: url.searchParams.get("limit"),
      status: 0,
      authorized,
      fault: fault?.kind ?? null,
    };
    requests.push(entry);
    if (isFeed) maxInFlight = Math.max(maxInFlight, ++inFlight);
    try {
      if (options.latencyMs) await sleep(options.latencyMs);
      if (fault?.kind === "hang") await sleep(fault.ms);
      let status: number;
      let body: string;
      if (req.method !== "GET") {
        status = 405;
        body = JSON.stringify({ error: { code: "method_not_allowed", message: "GET only" } });
      } else if (!authorized) {
        status = 401;
        body = JSON.stringify({ error: { code: "unauthorized", message: "bearer token required" } });
      } else if (fault?.kind === "status") {
        status = fault.status;
        body = JSON.stringify({ error: { code: "injected", message: `injected ${fault.status}` } });
      } else if (fault?.kind === "malformed") {
        status = 200;
        body = fault.json === false ? "<html>not json</html>" : JSON.stringify({ events: "not a list", next_cursor: 7 });
      } else if (fault?.kind === "stuck") {
        status = 200;
        // On a first page there is no cursor to repeat: "more, but no cursor to get it with".
        body = JSON.stringify({ events: [], next_cursor: cursor, has_more: true });
      } else {
        const answer = simAnswer(url, now()) ?? { status: 404, body: { error: { code: "not_found", message: "no such path" } } };
        status = answer.status;
        let payload = answer.body as Record<string, unknown>;
        if (fault?.kind === "extra-event" && status === 200) payload = { ...payload, events: [fault.event, ...(payload.events as unknown[])] };
        if (fault?.kind === "oversize" && status === 200) payload = { ...payload, padding: "x".repeat(fault.bytes) };
        body = JSON.stringify(payload);
      }
      entry.status = status;
      res.writeHead(status, { "content-type": "application/json" }).end(body);
    } finally {
      if (isFeed) inFlight--;
    }
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((failure: Error) => {
      answer500(res, failure);
    });
  });
  // A collector killed mid-request resets its connection; that is expected here, not a server error.
  server.on("clientError", (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://${options.host ?? "127.0.0.1"}:${port}`;

  return {
    url: base,
    feedUrl: (spec) => `${base}/api/sim/${feedSpecName(spec)}/events`,
    itemUrl: (spec) => `${base}/api/sim/${feedSpecName(spec)}/items`,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    inject: (...more) => faults.push(...more),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((failure) => (failure ? reject(failure) : resolve()));
      }),
  };
}

function answer500(res: http.ServerResponse, failure: Error): void {
  if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
  res.end(JSON.stringify({ error: { code: "internal", message: failure.message } }));
}
