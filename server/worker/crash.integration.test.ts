/**
 * A process can die at any line and nothing is lost or applied twice.
 *
 * Worker processes (`server/cli/worker.ts`, the same entry point as
 * `npm run worker`) are killed with SIGKILL ten times while they hold
 * leases, i.e. in the middle of batches. A final worker then finishes the
 * backlog (expired leases return through the reaper). Afterwards every event
 * has exactly one outcome, the rollups count each event exactly once, and
 * the item state is the model's.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { modelState } from "../core/model.ts";
import { asStored, event, readItems, storeInInbox, type TestEvent } from "../../test/events.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { Worker } from "./worker.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const KILLS = 10;
const LEASE_MS = 1_000;
// High enough that the test's own kills never exhaust an event's attempts: an event in
// flight at every kill would otherwise, correctly, become dead.
const MAX_ATTEMPTS = 50;

function history(tenantTag: string, count: number, items: number): TestEvent[] {
  const events: TestEvent[] = [];
  for (let i = 0; i < count; i++) {
    const itemId = `item-${i % items}`;
    const version = 1 + Math.floor(i / items);
    const type = i % 7 === 0 ? "item.deleted" : i < items ? "item.created" : "item.updated";
    events.push(event(`${tenantTag}-${i}`, type, itemId, version, { name: `v${version}`, refs: [`item-${(i + 1) % items}`] }));
  }
  // Arrival order differs from version order.
  return events.reverse();
}

const children = new Set<ChildProcess>();
// A failed or timed-out test must not leave a worker process running against a dropped database.
afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  children.clear();
});

function startWorkerProcess(): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "server/cli/worker.ts")], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: "test",
      LOG_LEVEL: "error",
      WORKER_CONCURRENCY: "2",
      WORKER_QUANTUM: "25",
      WORKER_MAX_BATCH: "25",
      WORKER_LEASE_MS: String(LEASE_MS),
      WORKER_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      WORKER_POLL_MS: "50",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.add(child);
  return child;
}

async function leasesHeldBy(pid: number): Promise<number> {
  // The events its claims rows list (a claim id is "<host>:<pid>:<random>").
  const { rows } = await pool.query<{ n: number }>("SELECT coalesce(sum(cardinality(event_ids)), 0)::int AS n FROM claims WHERE claim_id LIKE $1", [
    `%:${pid}:%`,
  ]);
  return rows[0]?.n ?? 0;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

describe("crash safety", () => {
  it("SIGKILL mid-batch, ten times: no event lost, none applied twice, state equals the model", async () => {
    const tenants = [await createTestTenant(), await createTestTenant()];
    const histories = new Map<number, TestEvent[]>();
    for (const [i, tenant] of tenants.entries()) {
      const events = history(`t${i}`, 8_000, 400);
      histories.set(tenant.id, events);
      await storeInInbox(tenant.id, events);
    }
    const total = [...histories.values()].reduce((sum, events) => sum + events.length, 0);

    // A kill counts only if the dead process still holds leases afterwards: it died inside a
    // batch, with work claimed and not committed. A kill that landed between batches is not
    // counted, and another round is run, so the ten interruptions are real ones.
    let killedMidBatch = 0;
    for (let round = 0; killedMidBatch < KILLS && round < KILLS * 4; round++) {
      const child = startWorkerProcess();
      const pid = child.pid as number;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      const deadline = Date.now() + 30_000;
      while ((await leasesHeldBy(pid)) === 0 && Date.now() < deadline && child.exitCode === null) await sleep(5);
      await sleep(Math.random() * 50);
      child.kill("SIGKILL");
      await exited;
      if ((await leasesHeldBy(pid)) > 0) killedMidBatch++;
    }
    expect(killedMidBatch).toBe(KILLS);

    const { rows: progress } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE status = 'done'");
    expect(progress[0]?.n).toBeLessThan(total);

    const survivor = new Worker({ concurrency: 2, quantum: 200, maxBatch: 500, leaseMs: LEASE_MS, maxAttempts: MAX_ATTEMPTS, pollMs: 50 });
    await survivor.start();
    const deadline = Date.now() + 120_000;
    for (;;) {
      const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE status <> 'done'");
      if (rows[0]?.n === 0) break;
      if (Date.now() > deadline) throw new Error(`${rows[0]?.n} events never finished`);
      await sleep(100);
    }
    await survivor.stop();

    const { rows: outcomes } = await pool.query<{ outcome: string; n: number }>(
      "SELECT outcome, count(*)::int AS n FROM events GROUP BY outcome ORDER BY outcome",
    );
    expect(outcomes.reduce((sum, row) => sum + row.n, 0)).toBe(total);
    expect(outcomes.find((row) => row.outcome === "dead")).toBeUndefined();
    expect(outcomes.find((row) => row.outcome === null)).toBeUndefined();

    // Each event counted exactly once in the rollups: a double apply would count it twice.
    const { rows: rolled } = await pool.query<Record<string, number>>(
      `SELECT sum(applied)::int AS applied, sum(stale)::int AS stale, sum(duplicate)::int AS duplicate,
              sum(rejected)::int AS rejected, sum(dead)::int AS dead,
              sum(received_created + received_updated + received_deleted)::int AS received
         FROM rollup_counts WHERE resolution = 60`,
    );
    const byOutcome = Object.fromEntries(outcomes.map((row) => [row.outcome, row.n]));
    expect(rolled[0]).toEqual({
      applied: byOutcome.applied ?? 0,
      stale: byOutcome.stale ?? 0,
      duplicate: byOutcome.duplicate ?? 0,
      rejected: 0,
      dead: 0,
      received: total,
    });

    for (const [tenantId, events] of histories) {
      expect(await readItems(tenantId)).toEqual(asStored(modelState(events)));
    }
  });
});
