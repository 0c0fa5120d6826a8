/**
 * `npm run sim -- <command>`: the simulated upstream, for demos, tests by
 * hand and load.
 *
 *   serve [--port P] [--host H] [--token T] [--latency-ms N]
 *       A standalone upstream: the pull contract at /api/sim/{feed}/events
 *       and the item API at /api/sim/{feed}/items/{id}, where {feed} is
 *       "demo", "seed-S-rate-R" (live) or "seed-S-total-N" (fixed). Point a
 *       source at it: `tidemark source set --tenant T --url <printed URL>`.
 *   push --tenant S --rate N [--url U] [--secret whsec_…] [--seed N] [--count N]
 *       The same kind of traffic as signed webhooks (single and batch) to
 *       the app at U (default http://127.0.0.1:$PORT). Without --secret the
 *       tenant's secret is read from the database, as `npm start` would
 *       find it. Prints one JSON line of counts per second.
 *
 * Ctrl-C stops either. Server modules are imported only after bootstrap()
 * (push) because server/env.ts reads DATABASE_URL when first imported.
 */
import { parseArgs } from "node:util";
import { bootstrap, fail } from "./bootstrap.ts";

const USAGE = `usage:
  npm run sim -- serve [--port P] [--host H] [--token T] [--latency-ms N]
  npm run sim -- push --tenant S --rate N [--url U] [--secret whsec_…] [--seed N] [--count N]
`;

const [command, ...rest] = process.argv.slice(2);

function positiveInteger(text: string | undefined, flag: string, fallback?: number): number {
  if (text === undefined) {
    if (fallback === undefined) fail(`--${flag} is required\n${USAGE}`);
    return fallback;
  }
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) fail(`--${flag} must be a whole number (got ${JSON.stringify(text)})`);
  return value;
}

if (command === "serve") {
  const { values } = parseArgs({
    args: rest,
    options: { port: { type: "string" }, host: { type: "string" }, token: { type: "string" }, "latency-ms": { type: "string" } },
    strict: true,
  });
  const { startSimServer } = await import("../sim/upstream.ts");
  const server = await startSimServer({
    port: positiveInteger(values.port, "port", 4100),
    host: values.host ?? "127.0.0.1",
    token: values.token,
    latencyMs: positiveInteger(values["latency-ms"], "latency-ms", 0),
  });
  process.stdout.write(
    [
      `tidemark sim: serving on ${server.url}${values.token ? " (bearer token required)" : ""}`,
      `  live demo feed:  ${server.url}/api/sim/demo/events      items: ${server.url}/api/sim/demo/items/{id}`,
      `  fixed feed:      ${server.url}/api/sim/seed-7-total-5000/events`,
      `  point a tenant at it: npm run tidemark -- source set --tenant T --url ${server.url}/api/sim/demo/events --item-url ${server.url}/api/sim/demo/items`,
      "",
    ].join("\n"),
  );
  const stop = () => void server.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
} else if (command === "push") {
  const { values } = parseArgs({
    args: rest,
    options: {
      tenant: { type: "string" },
      rate: { type: "string" },
      url: { type: "string" },
      secret: { type: "string" },
      seed: { type: "string" },
      count: { type: "string" },
    },
    strict: true,
  });
  if (!values.tenant) fail(`--tenant is required\n${USAGE}`);
  const rate = positiveInteger(values.rate, "rate");
  if (rate < 1) fail("--rate must be at least 1");
  const seed = positiveInteger(values.seed, "seed", Date.now() % 1_000_000_000);
  const count = values.count === undefined ? undefined : positiveInteger(values.count, "count");

  let secret = values.secret;
  let port = Number(process.env.PORT ?? 3000);
  let shutdown: () => Promise<void> = async () => {};
  if (secret === undefined) {
    const boot = await bootstrap({ announce: (line) => process.stderr.write(`tidemark sim: ${line}\n`) }).catch((error: Error) => fail(error.message));
    shutdown = boot.shutdown;
    const { readTenantSecret } = await import("../tenants/service.ts");
    const { env } = await import("../env.ts");
    const { closeDatabase } = await import("../db.ts");
    port = env.PORT;
    const stored = await readTenantSecret(values.tenant);
    await closeDatabase();
    if (stored === null) {
      await shutdown();
      fail(`no tenant with slug ${JSON.stringify(values.tenant)}`);
    }
    secret = stored;
  }

  const { push } = await import("../sim/push.ts");
  const abort = new AbortController();
  process.on("SIGINT", () => abort.abort());
  process.on("SIGTERM", () => abort.abort());
  const baseUrl = values.url ?? `http://127.0.0.1:${port}`;
  process.stderr.write(`tidemark sim: pushing ${rate} events/s to ${baseUrl}/api/webhooks/${values.tenant} (seed ${seed}); Ctrl-C stops\n`);
  await push({
    baseUrl,
    tenant: values.tenant,
    secret,
    ratePerSecond: rate,
    seed,
    count,
    signal: abort.signal,
    report: (stats) => process.stdout.write(`${JSON.stringify(stats)}\n`),
  });
  await shutdown();
  process.exit(0);
} else {
  process.stderr.write(USAGE);
  process.exit(2);
}
