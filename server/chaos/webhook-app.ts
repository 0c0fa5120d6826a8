/**
 * A light app process: the production server's webhook fast path
 * (server/http/fast-path.ts, the code server/cli/serve.ts answers webhooks
 * with) without Next.js, on --port of 127.0.0.1, answering GET /api/health
 * and 404 to anything else. For the scale-out test and `npm run chaos
 * --light-apps`, where starting Next.js per process would cost most of the
 * run; it runs no in-app worker or collector. SIGTERM closes it after its
 * open requests.
 */
import { parseArgs } from "node:util";
import { closeDatabase } from "../db.ts";
import { createWebhookServer } from "../http/fast-path.ts";
import { closeStore } from "../redis.ts";

const { values: flags } = parseArgs({ options: { port: { type: "string" }, hostname: { type: "string" } } });

const server = createWebhookServer((request, response) => {
  if (request.method === "GET" && request.url === "/api/health") response.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
  else response.writeHead(404).end();
});
await new Promise<void>((resolve) => server.listen(Number(flags.port), "127.0.0.1", resolve));
process.stdout.write(`listening on ${flags.port}\n`);

process.on("SIGTERM", () => {
  const idle = setInterval(() => server.closeIdleConnections(), 50);
  server.close(() => {
    clearInterval(idle);
    void Promise.all([closeDatabase(), closeStore()]).finally(() => process.exit(0));
  });
  server.closeIdleConnections();
});
