/**
 * The production server's webhook fast path: `POST /api/webhooks/{slug}`
 * and `POST /api/webhooks/{slug}/batch` answered straight from node:http,
 * by the same framework-independent handlers the Next.js route handlers call
 * (server/ingest/webhook.ts), with no web Request, Headers or stream built.
 * Every other request goes to `fallback` (Next.js's request handler in
 * production, see server/cli/serve.ts).
 *
 * Guarantees:
 * - The same answers as the route handlers: both adapt to one handler, and
 *   the webhook contract tests run against both servers.
 * - Only exact paths are taken (no trailing slash, any query ignored, the
 *   slug percent-decoded as Next.js decodes params); anything else is
 *   Next.js's to answer, so the two paths cannot disagree about which URLs
 *   exist. The exception: a path whose percent-encoding does not decode
 *   (`/api/webhooks/%E0%A4%A`, `/tenants/%ED%A0%80`) is answered here with a
 *   400, for every route, because Next.js 16 answers it with a 500 (its
 *   DecodeError's 400 page fails to render).
 * - A body that was not read to its end (an early refusal, a 413 cut off
 *   while reading) is never left in front of the next request on a
 *   keep-alive connection: such an answer carries `Connection: close`.
 * - Every request, the fallback's included, gets a request id (the caller's
 *   valid `x-request-id`, else a new one; server/lib/request-id.ts): set on
 *   the request's headers for whoever handles it, echoed in the answer, and
 *   carried by log lines written while it is handled.
 * - Once the process drains (SIGTERM, server/lifecycle/process-state.ts),
 *   every answer carries `Connection: close`: a keep-alive connection busy
 *   at the signal ends after its answer instead of taking another request
 *   the server would have to cut off.
 * - Every request is timed once, into http_request_duration_seconds by route
 *   template (server/http/routes.ts: a bounded label set), method and status.
 * - Every answer, the fallback's included, carries the security headers
 *   (server/http/security-headers.ts; HSTS only over TLS as TRUST_PROXY judges it).
 * - Nothing thrown reaches node:http: a handler's failure is answered by the
 *   one error mapping (server/lib/http.ts), never with a stack.
 */
import http from "node:http";
import { errorReply, type HttpReply } from "../lib/http.ts";
import { readIncomingWithLimit } from "../lib/body.ts";
import { handleBatchWebhook, handleWebhook, type WebhookRequest } from "../ingest/webhook.ts";
import { processState } from "../lifecycle/process-state.ts";
import { log } from "../log.ts";
import { metrics } from "../metrics.ts";
import { REQUEST_ID_HEADER, requestIdFrom, withRequestId } from "../lib/request-id.ts";
import { hasMalformedPath, malformedPathError } from "./malformed-path.ts";
import { routeTemplate } from "./routes.ts";
import { requestCameOverTls, securityHeaders } from "./security-headers.ts";

const PREFIX = "/api/webhooks/";
const BATCH_SUFFIX = "/batch";

export type RequestListener = (request: http.IncomingMessage, response: http.ServerResponse) => void;

interface Route {
  slug: string;
  batch: boolean;
}

/** The webhook route a request names, or null if it is not one of the two (then it is the fallback's). */
export function webhookRoute(method: string | undefined, url: string | undefined): Route | null {
  if (method !== "POST" || url === undefined || !url.startsWith(PREFIX)) return null;
  const query = url.indexOf("?");
  const path = query === -1 ? url : url.slice(0, query);
  let rest = path.slice(PREFIX.length);
  let batch = false;
  if (rest.endsWith(BATCH_SUFFIX)) {
    rest = rest.slice(0, -BATCH_SUFFIX.length);
    batch = true;
  }
  if (rest === "" || rest.includes("/")) return null;
  try {
    return { slug: decodeURIComponent(rest), batch };
  } catch {
    return null; // malformed percent-encoding: withWebhookFastPath answers it before any route
  }
}

/** node:http's request as a WebhookRequest; a class, so no closures are made per request. */
class IncomingWebhook implements WebhookRequest {
  constructor(private readonly request: http.IncomingMessage) {}

  header(name: string): string | undefined {
    const value = this.request.headers[name];
    return Array.isArray(value) ? value.join(", ") : value;
  }

  readBody(limitBytes: number): Promise<Buffer> {
    return readIncomingWithLimit(this.request, limitBytes);
  }
}

function send(request: http.IncomingMessage, response: http.ServerResponse, reply: HttpReply): void {
  const headers: Record<string, string | number> = { ...reply.headers, "content-length": Buffer.byteLength(reply.body) };
  if (!request.complete) headers.connection = "close";
  response.writeHead(reply.status, headers);
  response.end(reply.body);
}

async function answer(request: http.IncomingMessage, response: http.ServerResponse, route: Route): Promise<void> {
  let reply: HttpReply;
  try {
    reply = await (route.batch ? handleBatchWebhook : handleWebhook)(new IncomingWebhook(request), route.slug);
  } catch (error) {
    reply = errorReply(error);
  }
  // The client may be gone (a reset mid-body): there is nobody to answer.
  if (response.destroyed || response.writableEnded) return;
  send(request, response, reply);
}

/** A request listener: the webhook routes on the fast path, anything else to `fallback`. */
export function withWebhookFastPath(fallback: RequestListener): RequestListener {
  return (request, response) => {
    if (hasMalformedPath(request.url)) {
      send(request, response, errorReply(malformedPathError()));
      return;
    }
    const route = webhookRoute(request.method, request.url);
    if (route === null) {
      fallback(request, response);
      return;
    }
    answer(request, response, route).catch((error: Error) => {
      // Only writing the answer can get here (the handlers answer every error themselves).
      log.warn({ module: "fast-path", err: error.message }, "could not write a webhook answer");
      response.destroy();
    });
  };
}

/** How long an idle keep-alive connection is kept: longer than a typical sender's pool keeps one (60 s). */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** `listener` with a request id and one duration observation per request. */
export function withRequestTelemetry(listener: RequestListener): RequestListener {
  return (request, response) => {
    const started = process.hrtime.bigint();
    response.once("close", () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const method = request.method !== undefined && METHODS.has(request.method) ? request.method : "other";
      const status = response.writableFinished ? String(response.statusCode) : "aborted";
      metrics.httpRequestSeconds.observe({ route: routeTemplate(request.url), method, status }, seconds);
    });
    const requestId = requestIdFrom(request.headers[REQUEST_ID_HEADER] as string | undefined);
    request.headers[REQUEST_ID_HEADER] = requestId;
    response.setHeader(REQUEST_ID_HEADER, requestId);
    if (processState.draining) response.setHeader("connection", "close");
    withRequestId(requestId, () => listener(request, response));
  };
}

/**
 * `listener` with the security headers (server/http/security-headers.ts) set on every response before anyone
 * answers it, so the fast path's answers, its 400s and whatever the fallback writes all carry them.
 */
export function withSecurityHeaders(listener: RequestListener, trustedHops: number): RequestListener {
  return (request, response) => {
    const overTls = requestCameOverTls("encrypted" in request.socket && request.socket.encrypted === true, request.headers["x-forwarded-proto"], trustedHops);
    for (const [name, value] of securityHeaders(overTls)) response.setHeader(name, value);
    listener(request, response);
  };
}

export interface WebhookServerOptions {
  /** TRUST_PROXY: how many proxies' X-Forwarded-Proto to believe for HSTS (0, the default: only the socket's own TLS). */
  trustedHops: number;
}

export function createWebhookServer(fallback: RequestListener, options: WebhookServerOptions = { trustedHops: 0 }): http.Server {
  const server = http.createServer(withRequestTelemetry(withSecurityHeaders(withWebhookFastPath(fallback), options.trustedHops)));
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  return server;
}
