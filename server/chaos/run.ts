/**
 * One chaos run, end to end (`npm run chaos`, server/cli/chaos.ts):
 *
 * 1. the plan of ./plan.ts for the seed (its digest printed);
 * 2. a database of its own on the local PostgreSQL server (created,
 *    migrated, dropped at the end), a Redis server of its own, the database
 *    proxy of ./db-proxy.ts, the simulated upstream (server/sim) for the
 *    pull tenant, and the item API of ./item-api.ts for the webhook tenants'
 *    thin events (each has a paused source naming it);
 * 3. app processes (the production server, with in-app workers and
 *    collectors) and `npm run worker` processes, all on the proxy and the
 *    run's Redis;
 * 4. the senders of ./deliver.ts and the planned faults at once: SIGKILL and
 *    restart of workers and an app, a Redis restart, the database cut;
 * 5. waits until every delivery is answered, the source has caught up and
 *    the inbox is drained, stops every process (SIGTERM), and runs the
 *    checks of ./checks.ts.
 * Everything it starts is on loopback, and it stops (and drops) all of it,
 * also when a step fails. This module expects DATABASE_URL, REDIS_URL and
 * REDIS_KEY_PREFIX to be set for the run's own database and Redis before the
 * server modules it imports are loaded (server/cli/chaos.ts does that).
 */
import { createWriteStream, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import type { Fault } from "../faults.ts";
import { encodeCursor } from "../sim/feed.ts";
import { startSimServer } from "../sim/upstream.ts";
import { currentDeadlocks, runChecks, type Check } from "./checks.ts";
import { startDatabaseProxy } from "./db-proxy.ts";
import { deliverAll, newDeliveryLog } from "./deliver.ts";
import { startItemApi, type ChaosItemApi } from "./item-api.ts";
import type { ChaosPlan, PlannedFault } from "./plan.ts";
import { appProcess, freePort, redisProcess, workerProcess, type Managed } from "./processes.ts";

export interface RunSettings {
  plan: ChaosPlan;
  /** The run's own database (direct) and the server it lives on. */
  databaseUrl: string;
  redisPort: number;
  redisPrefix: string;
  portRange: { from: number; to: number } | null;
  fault: Fault | undefined;
  /** App processes serve the webhook fast path alone (./webhook-app.ts) instead of the whole production server. */
  lightApps: boolean;
  /** The inbox must drain within this long after the last delivery. */
  drainTimeoutMs: number;
  say: (line: string) => void;
}

export interface RunResult {
  checks: Check[];
  logDir: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const n = (value: number) => value.toLocaleString("en-US");

export async function runChaos(settings: RunSettings): Promise<RunResult> {
  const { plan, say } = settings;
  const undo: (() => Promise<unknown>)[] = [];
  const logDir = mkdtempSync(path.join(tmpdir(), `tidemark-chaos-${plan.seed}-`));
  const log = createWriteStream(path.join(logDir, "processes.log"));
  say(`logs of the processes it starts: ${path.join(logDir, "processes.log")}`);
  const taken = new Set<number>([settings.redisPort]);
  const port = () => freePort(settings.portRange, taken);

  try {
    const database = new URL(settings.databaseUrl);
    const direct = new pg.Pool({ connectionString: settings.databaseUrl, max: 2 });
    undo.push(() => direct.end());

    const redis = redisProcess(settings.redisPort, log, say);
    undo.push(() => redis.stop());
    await redis.start();

    const proxy = await startDatabaseProxy({ host: database.hostname, port: Number(database.port || 5432) }, await port());
    undo.push(() => proxy.close());
    const proxied = new URL(settings.databaseUrl);
    proxied.port = String(proxy.port);

    const sim = await startSimServer({ port: await port(), latencyMs: 60 });
    undo.push(() => sim.close());
    const itemApi = await startItemApi(plan.events, await port());
    undo.push(() => itemApi.close());

    const { tenantIds, pullTenantId, secrets } = await createTenants(plan, sim.feedUrl(plan.feed), itemApi);
    // The run's own clients close before the Redis server they talk to stops.
    const { closeDatabase } = await import("../db.ts");
    const { closeStore } = await import("../redis.ts");
    undo.push(() => Promise.all([closeDatabase(), closeStore()]));

    const childEnv: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: proxied.toString(),
      DATABASE_POOL_SIZE: "5",
      REDIS_URL: `redis://127.0.0.1:${settings.redisPort}`,
      REDIS_KEY_PREFIX: settings.redisPrefix,
      LOG_LEVEL: "warn",
      NEXT_TELEMETRY_DISABLED: "1",
      WORKER_LEASE_MS: "5000",
      WORKER_POLL_MS: "100",
      WORKER_MAX_ATTEMPTS: "5",
      COLLECTOR_FETCH_TIMEOUT_MS: "2000",
      COLLECTOR_LEASE_MS: "4000",
      ...(settings.fault ? { TIDEMARK_FAULT: settings.fault, TIDEMARK_CHAOS: "1" } : { TIDEMARK_FAULT: "", TIDEMARK_CHAOS: "" }),
    };
    const appPorts = await Promise.all(Array.from({ length: plan.size.apps }, port));
    const apps = appPorts.map((appPort, index) =>
      appProcess(`app-${index}`, appPort, { ...childEnv, WORKER_CONCURRENCY: "1", COLLECTOR_CONCURRENCY: "1" }, log, say, settings.lightApps),
    );
    const workers = Array.from({ length: plan.size.workers }, (_, index) =>
      workerProcess(`worker-${index}`, { ...childEnv, WORKER_CONCURRENCY: "2", COLLECTOR_CONCURRENCY: "1" }, log, say),
    );
    for (const child of [...apps, ...workers]) undo.push(() => child.stop());
    say(`starting ${apps.length} app processes and ${workers.length} worker processes`);
    // One at a time: on two cores, parallel Next.js starts take longer than serial ones.
    for (const child of [...apps, ...workers]) await child.start();

    const deadlocksBefore = await currentDeadlocks(direct);
    const delivered = newDeliveryLog();
    const startedAt = Date.now();
    let faultsDone = 0;
    const progress = setInterval(() => {
      void backlog(direct).then((pending) =>
        say(
          `${Math.round((Date.now() - startedAt) / 1000)} s: ${n(delivered.delivered)}/${n(plan.deliveries.length)} deliveries answered, ${n(delivered.retries)} retries, ${n(pending)} events unfinished, faults ${faultsDone}/${plan.faults.length}`,
        ),
      );
    }, 5_000);
    undo.push(async () => clearInterval(progress));

    const context: FaultContext = { apps, workers, redis, proxy, say, startedAt };
    // Settled (never rejected) so that a failed fault cannot go unhandled while the deliveries run; rethrown below.
    const faults = Promise.allSettled(
      plan.faults.map(async (fault) => {
        await injectFault(fault, context);
        faultsDone++;
      }),
    );
    const target = { apps: appPorts.map((appPort) => `http://127.0.0.1:${appPort}`), tenants: secrets };
    await deliverAll(plan.deliveries, target, plan.size.senders, startedAt, delivered);
    for (const settled of await faults) if (settled.status === "rejected") throw settled.reason;
    say(`all ${n(plan.deliveries.length)} deliveries answered after ${Math.round((Date.now() - startedAt) / 1000)} s; waiting for the inbox to drain`);

    const drained = await drain(direct, pullTenantId, encodeCursor(plan.feed.total), settings.drainTimeoutMs);
    clearInterval(progress);
    const thin = plan.events.flat().filter((event) => event.thin).length;
    say(`${n(thin)} of ${n(plan.events.flat().length)} webhook events were sent thin; the item API answered ${n(itemApi.fetches)} fetches`);
    say(drained ? "drained; stopping every process" : `the inbox did not drain within ${settings.drainTimeoutMs / 1000} s; stopping every process`);
    await Promise.all([...apps, ...workers].map((child) => child.stop()));
    const children = [...apps, ...workers, redis];
    const crashed = children.filter((child) => child.crashes > 0).map((child) => `${child.label} ×${child.crashes}`);
    const failedStarts = children.reduce((sum, child) => sum + child.failedStarts, 0);

    const checks = await runChecks(direct, { plan, tenantIds, pullTenantId, log: delivered, deadlocksBefore, proxyErrors: proxy.errors });
    checks.push({
      name: "no crashes",
      ok: crashed.length === 0,
      detail: `${crashed.length === 0 ? "no process" : crashed.join(", ")} exited without being killed; ${failedStarts} starts retried (begun while the database was cut)`,
    });
    if (!drained) checks.unshift({ name: "drained", ok: false, detail: `events still unfinished after ${settings.drainTimeoutMs / 1000} s` });
    return { checks, logDir };
  } finally {
    for (let step = undo.pop(); step; step = undo.pop()) {
      await step().catch((error: Error) => say(`cleanup step failed: ${error.message}`));
    }
    await new Promise((resolve) => log.end(resolve));
  }
}

/**
 * Webhook tenants (generous quotas, several batches at once so concurrent batches meet on the same rows), each with a
 * paused source that only names its item API (for its thin events), and the pull tenant with its source.
 */
async function createTenants(plan: ChaosPlan, feedUrl: string, itemApi: ChaosItemApi) {
  const { createTenant } = await import("../tenants/service.ts");
  const { pauseSource, setSource } = await import("../collector/sources.ts");
  const quotas = { ratePerSecond: 1_000_000, burst: 10_000_000, maxConcurrency: 8 };
  const secrets: { slug: string; secret: string }[] = [];
  const tenantIds: number[] = [];
  for (let index = 0; index < plan.events.length; index++) {
    const { tenant, secret } = await createTenant({ slug: `chaos-${plan.seed}-w${index}`, ...quotas });
    tenantIds.push(tenant.id);
    secrets.push({ slug: tenant.slug, secret });
    await setSource(tenant, { url: `${itemApi.itemUrl(index)}/feed`, itemUrl: itemApi.itemUrl(index) });
    await pauseSource(tenant);
  }
  const { tenant: pull } = await createTenant({ slug: `chaos-${plan.seed}-pull`, ...quotas });
  await setSource(pull, { url: feedUrl, pageSize: 25, intervalMs: 200 });
  return { tenantIds, pullTenantId: pull.id, secrets };
}

interface FaultContext {
  apps: Managed[];
  workers: Managed[];
  redis: Managed;
  proxy: { cut(): Promise<void>; restore(): Promise<void> };
  say: (line: string) => void;
  startedAt: number;
}

async function injectFault(fault: PlannedFault, context: FaultContext): Promise<void> {
  const wait = context.startedAt + fault.atMs - Date.now();
  if (wait > 0) await sleep(wait);
  const at = `${((Date.now() - context.startedAt) / 1000).toFixed(1)} s`;
  switch (fault.kind) {
    case "kill-worker":
    case "kill-app": {
      const victim = (fault.kind === "kill-worker" ? context.workers : context.apps)[fault.target] as Managed;
      // A victim still restarting from an earlier fault is left alone: one fault per process at a time.
      if (!victim.isReady) return context.say(`${at}: ${victim.label} is still starting; skipping its SIGKILL`);
      context.say(`${at}: SIGKILL ${victim.label}, back in ${fault.downMs} ms`);
      await victim.kill();
      await sleep(fault.downMs);
      await victim.start();
      return;
    }
    case "restart-redis":
      context.say(`${at}: Redis killed, back in ${fault.downMs} ms`);
      await context.redis.kill();
      await sleep(fault.downMs);
      await context.redis.start();
      return;
    case "cut-database":
      context.say(`${at}: PostgreSQL unreachable for ${fault.downMs} ms`);
      await context.proxy.cut();
      await sleep(fault.downMs);
      await context.proxy.restore();
      return;
  }
}

async function backlog(client: pg.Pool): Promise<number> {
  const { rows } = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE status = 'pending'");
  return rows[0]?.n ?? 0;
}

/** Until the source has served its last page and no event is pending or processing. */
async function drain(client: pg.Pool, pullTenantId: number, lastCursor: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { rows } = await client.query<{ cursor: string | null; has_more: boolean }>("SELECT cursor, has_more FROM sources WHERE tenant_id = $1", [
      pullTenantId,
    ]);
    const caughtUp = rows[0]?.cursor === lastCursor && rows[0].has_more === false;
    if (caughtUp && (await backlog(client)) === 0) return true;
    await sleep(250);
  }
  return false;
}
