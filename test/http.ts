/**
 * Serves the app's route handlers over real HTTP (node:http on a free port)
 * without a Next.js build, for integration tests that need connections,
 * keep-alive, streaming bodies and concurrency. Requests are converted to
 * web Requests exactly as received (headers, streamed body) and passed to
 * the same exported handlers Next.js calls; the playwright suite covers the
 * real Next.js server.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";

type RouteHandler = (request: Request, context: { params: Promise<Record<string, string>> }) => Promise<Response>;

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: RouteHandler;
}

export interface TestServer {
  url: string;
  close(): Promise<void>;
}

/** Routes in the App Router's notation, e.g. "/api/webhooks/[tenant]/batch". */
export function route(method: string, path: string, handler: RouteHandler): Route {
  const names: string[] = [];
  const pattern = new RegExp(
    `^${path.replace(/\[([^\]]+)\]/g, (_, name: string) => {
      names.push(name);
      return "([^/]+)";
    })}$`,
  );
  return { method, pattern, names, handler };
}

/** The routes as a node:http request listener: what Next.js's request handler is to the production server. */
export function routeListener(routes: Route[]): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://test.local");
    const match = routes
      .map((candidate) => ({ candidate, found: candidate.method === req.method ? candidate.pattern.exec(url.pathname) : null }))
      .find((entry) => entry.found !== null);
    if (!match?.found) {
      res.writeHead(404).end();
      return;
    }
    let params: Record<string, string>;
    try {
      params = Object.fromEntries(match.candidate.names.map((name, i) => [name, decodeURIComponent(match.found?.[i + 1] ?? "")]));
    } catch {
      // A segment whose percent-encoding does not decode never reaches a handler: the production server answers 400
      // (server/http/fast-path.ts) before Next.js, which would answer 500 (docs/design.md, Known gaps).
      res.writeHead(400).end();
      return;
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === "string") headers.set(name, value);
      else if (Array.isArray(value)) for (const entry of value) headers.append(name, entry);
    }
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(url, {
      method: req.method,
      headers,
      body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
      duplex: "half",
    } as RequestInit);
    try {
      const response = await match.candidate.handler(request, { params: Promise.resolve(params) });
      const responseHeaders = Object.fromEntries(response.headers.entries());
      // A body the handler did not read (an early 4xx) is still on the socket, held back by the web
      // stream's backpressure: a reused connection would stall behind it. Close it, as HTTP asks of a
      // server that will not read the rest (Next.js itself reads bodies eagerly, so never meets this).
      if (hasBody && !req.complete) responseHeaders.connection = "close";
      res.writeHead(response.status, responseHeaders);
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (error) {
      res.writeHead(599).end(String(error));
    }
  };
  // Anything thrown outside the try above (a malformed path's percent-encoding) is still an answer, never an unhandled rejection.
  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(599);
      res.end(String(error));
    });
  };
}

export async function serve(routes: Route[]): Promise<TestServer> {
  const server = http.createServer(routeListener(routes));
  server.keepAliveTimeout = 30_000;
  return listen(server);
}

/** Listens on a free loopback port. */
export async function listen(server: http.Server): Promise<TestServer> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
