/**
 * /api/ready through its route handler, with PostgreSQL and Redis behind TCP
 * proxies the test controls (the network is the one thing faked): ready only
 * when the database answers and is migrated, Redis answers, the in-app
 * workers run and the process is not draining; a hung dependency is answered
 * 503 within 2 s. /api/health stays liveness.
 */
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { routeThroughProxy } from "../test/tcp-proxy.ts";

const { proxy: dbProxy, directUrl } = await routeThroughProxy("DATABASE_URL");
const { proxy: redisProxy } = await routeThroughProxy("REDIS_URL");
process.env.WORKER_CONCURRENCY = "2";

const { GET } = await import("../app/api/ready/route.ts");
const { checkReadiness } = await import("./readiness.ts");
const { processState } = await import("./lifecycle/process-state.ts");
const { LATEST_MIGRATION } = await import("./setup/schema-version.ts");

async function ready(): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const started = performance.now();
  const response = await GET();
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, ms: performance.now() - started };
}

afterEach(async () => {
  processState.workersRunning = true;
  processState.draining = false;
  await dbProxy.restore();
  await redisProxy.restore();
  // Let the clients reconnect before the next case (and before the file's clean-up uses Redis).
  for (let tries = 0; tries < 100 && (await checkReadiness()).ready !== true; tries++) await new Promise((resolve) => setTimeout(resolve, 100));
});
// The proxies stay open: test/setup-integration.ts's clean-up still goes through them after this file.

describe("/api/ready", () => {
  it("is 200 when the database is migrated, Redis answers, the workers run and nothing drains", async () => {
    processState.workersRunning = true;
    const answer = await ready();
    expect(answer.body).toEqual({ ready: true, database: "ok", migrations: "ok", store: "ok", workers: "ok", draining: false });
    expect(answer.status).toBe(200);
  });

  it("is 503 while the in-app workers are not running (before start, or stopped)", async () => {
    processState.workersRunning = false;
    const answer = await ready();
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ ready: false, workers: "failing", database: "ok" });
  });

  it("is 503 while the process drains", async () => {
    processState.workersRunning = true;
    processState.draining = true;
    const answer = await ready();
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ ready: false, draining: true });
  });

  it("is 503 when the code's newest migration is not applied", async () => {
    processState.workersRunning = true;
    const client = new pg.Client({ connectionString: directUrl });
    await client.connect();
    try {
      await client.query(`UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = $1`, [LATEST_MIGRATION]);
      const answer = await ready();
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({ ready: false, database: "ok", migrations: "failing" });
    } finally {
      await client.query(`UPDATE "_prisma_migrations" SET rolled_back_at = NULL WHERE migration_name = $1`, [LATEST_MIGRATION]);
      await client.end();
    }
    expect((await ready()).status).toBe(200);
  });

  it("is 503 within 2 s when PostgreSQL hangs, and when it refuses", async () => {
    processState.workersRunning = true;
    await dbProxy.blackhole();
    const hung = await ready();
    expect(hung.status).toBe(503);
    expect(hung.body).toMatchObject({ ready: false, database: "failing", migrations: "failing" });
    expect(hung.ms).toBeLessThan(2_000);
    await dbProxy.cut();
    const refused = await ready();
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ database: "failing" });
  });

  it("is 503 within 2 s when the configured Redis hangs", async () => {
    processState.workersRunning = true;
    await redisProxy.blackhole();
    const hung = await ready();
    expect(hung.status).toBe(503);
    expect(hung.body).toMatchObject({ ready: false, store: "failing", database: "ok" });
    expect(hung.ms).toBeLessThan(2_000);
  });
});
