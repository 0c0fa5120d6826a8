/**
 * The production app process, as `npm start` runs it (server/cli/start.ts
 * spawns this after bootstrap, build and seeding; the bench starts it the
 * same way): one node:http server on --port/--hostname that answers the
 * webhook routes on the fast path (server/http/fast-path.ts) and hands
 * every other request to Next.js's own request handler (the custom-server
 * API: next({ dev: false, dir }) and getRequestHandler()).
 *
 * Guarantees:
 * - Next.js's instrumentation hook runs (during prepare), so the in-app
 *   worker starts as under `next start`; should it not have run, the
 *   lifecycle is started here instead, and that is logged.
 * - SIGINT/SIGTERM drain through server/app-lifecycle.ts: this server stops
 *   taking connections and finishes the requests it holds (every started
 *   group commit completes and is answered) within DRAIN_GRACE_MS, then the
 *   worker stops and the counters are flushed.
 * - It listens only once Next.js is ready, so no request meets a half-started app.
 * - Next.js sees the client address it is told (server/http/client-address.ts):
 *   the socket's, or TRUST_PROXY hops into X-Forwarded-For; forged forwarding
 *   headers never reach it.
 * - Every answer carries the security headers (server/http/security-headers.ts),
 *   HSTS when the request came over TLS as TRUST_PROXY judges it.
 */
import net from "node:net";
import { parseArgs } from "node:util";
import next from "next";
import { PROJECT_ROOT } from "../setup/paths.ts";

const DRAIN_GRACE_MS = 8_000;
const IDLE_CLOSE_DELAY_MS = 500;

// This is the production server whoever starts it; signals belong to server/app-lifecycle.ts.
Object.assign(process.env, { NODE_ENV: "production", NEXT_MANUAL_SIG_HANDLE: "1" });

const { values: flags } = parseArgs({ options: { port: { type: "string" }, hostname: { type: "string" } } });

const { env } = await import("../env.ts");
const { log } = await import("../log.ts");
const { appStarted, drainOnShutdown, startApp } = await import("../app-lifecycle.ts");
const { createWebhookServer } = await import("../http/fast-path.ts");
const { stampClientAddress } = await import("../http/client-address.ts");

const port = flags.port === undefined ? env.PORT : Number(flags.port);
const hostname = flags.hostname;

const app = next({ dev: false, dir: PROJECT_ROOT, port, ...(hostname ? { hostname } : {}) });
await app.prepare();
if (!appStarted()) log.warn({ module: "serve" }, "the instrumentation hook did not start the app; starting it here");
await startApp();

const handle = app.getRequestHandler();
const server = createWebhookServer(
  (request, response) => {
    stampClientAddress(request, env.TRUST_PROXY);
    handle(request, response).catch((error: Error) => {
      log.error({ module: "serve", err: error.message }, "Next.js could not answer a request");
      if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain" });
      response.end("internal error");
    });
  },
  { trustedHops: env.TRUST_PROXY },
);

drainOnShutdown(
  "http server",
  () =>
    new Promise<void>((resolve) => {
      // Stop accepting, but not through server.close(), which would also cut every keep-alive connection that looks
      // idle at once, though a request may already be in its socket unread: the client would see a reset. Those
      // connections get IDLE_CLOSE_DELAY_MS to deliver what they sent; each answer says Connection: close
      // (server/http/fast-path.ts) and ends its connection. Then idle ones close, busy ones after their answer, or at
      // the grace's end.
      let idle: NodeJS.Timeout | undefined;
      const firstIdleClose = setTimeout(() => {
        server.closeIdleConnections();
        idle = setInterval(() => server.closeIdleConnections(), 50);
      }, IDLE_CLOSE_DELAY_MS);
      const killer = setTimeout(() => server.closeAllConnections(), DRAIN_GRACE_MS);
      net.Server.prototype.close.call(server, () => {
        clearTimeout(firstIdleClose);
        clearInterval(idle);
        clearTimeout(killer);
        resolve();
      });
    }),
);

await new Promise<void>((resolve, reject) => {
  server.once("error", reject);
  server.listen(port, hostname, () => resolve());
});
log.info({ module: "serve", port, hostname: hostname ?? "all interfaces" }, "serving");
