/**
 * The dirty-read guarantee of pull mode, under a race and a crash.
 *
 * Two collectors in processes of their own (test/collector-process.ts, the
 * real Collector) share one source: a simulated upstream of 5,000 events in
 * 100 pages. They take turns on it (a few pages each, then the other). In the
 * middle of the run the one holding the source is killed with SIGKILL while
 * its fetch is in flight, and started again. Then:
 * - every event of the feed is stored exactly once, and every page was
 *   committed exactly once (100 pages, events_stored = distinct events);
 * - the cursor never moved backwards: the cursors the upstream was asked
 *   for never decrease (a killed collector's page is asked for again, by the
 *   survivor, at the same cursor);
 * - one collector at a time: the upstream never had two requests in flight,
 *   and the survivor took the source only after the dead one's lease
 *   expired, within one lease;
 * - once the workers applied the events, each item's state is the model's.
 *
 * The control runs the same race with collectors built with a cursor cache
 * (the classic bug: the fetch starts from the cursor this process remembers)
 * and shows that the same observations catch it: pages are fetched from a
 * cursor behind the committed one and committed twice.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { modelState } from "../core/model.ts";
import { encodeCursor, type FeedSpec } from "../sim/feed.ts";
import { startSimServer, type SimServer } from "../sim/upstream.ts";
import { asStored, readItems } from "../../test/events.ts";
import { distinctIds, feedEvents, sourceRow, storedEventIds, tenantWithSource } from "../../test/collector.ts";
import { processAll, waitFor } from "../../test/worker.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const TOTAL = 5_000;
const PAGE_SIZE = 50;
const PAGES = TOTAL / PAGE_SIZE;
const LEASE_MS = 1_500;
const FETCH_TIMEOUT_MS = 1_000;
const POLL_MS = 10;
/** Long enough to kill the process during it, short enough not to time out. */
const HANG_MS = 600;
const SETTINGS = { pagesPerTurn: 3, pollMs: POLL_MS, turnPauseMs: 40, backoffBaseMs: 20, backoffCapMs: 200 };

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  children.clear();
});

let sim: SimServer;
beforeAll(async () => {
  sim = await startSimServer({ latencyMs: 5 });
});
afterAll(async () => {
  await sim.close();
});

interface Running {
  child: ChildProcess;
  owner: Promise<string>;
}

function startCollector(cached: boolean): Running {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", path.join(ROOT, "test/collector-process.ts"), JSON.stringify(SETTINGS), ...(cached ? ["--cached-cursor"] : [])],
    {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: "test", LOG_LEVEL: "error", COLLECTOR_LEASE_MS: String(LEASE_MS), COLLECTOR_FETCH_TIMEOUT_MS: String(FETCH_TIMEOUT_MS) },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  children.add(child);
  const owner = new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      const line = out.split("\n")[0];
      if (out.includes("\n") && line) resolve((JSON.parse(line) as { owner: string }).owner);
    });
    child.once("exit", (code) => reject(new Error(`collector exited (${code}) before it started`)));
  });
  return { child, owner };
}

async function stopGracefully(running: Running): Promise<void> {
  const { child } = running;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

interface RaceResult {
  tenantId: number;
  spec: Extract<FeedSpec, { kind: "fixed" }>;
  /** Feed requests whose cursor was behind the one asked for just before. */
  backwards: number;
  pagesCommitted: number;
  eventsStored: number;
  stored: string[];
  expected: string[];
  maxInFlight: number;
  /** When the survivor's first request came, relative to the dead collector's lease expiry (ms). */
  takeoverAfterExpiryMs: number;
}

async function race(seed: number, cached: boolean): Promise<RaceResult> {
  const spec = { seed, kind: "fixed", total: TOTAL } as const;
  const tenant = await tenantWithSource(sim.feedUrl(spec), { pageSize: PAGE_SIZE, intervalMs: 100 });
  await pool.query("UPDATE sources SET paused = true WHERE tenant_id <> $1", [tenant.id]);
  const firstRequest = sim.requests.length;

  const a = startCollector(cached);
  const b = startCollector(cached);
  const owners = new Map<string, Running>([
    [await a.owner, a],
    [await b.owner, b],
  ]);

  // Both have had turns (so each remembers a cursor, in the control) before the kill.
  await waitFor(async () => (await sourceRow(tenant.id)).pages_committed >= 30, 60_000);
  // The next fetch hangs; whoever holds the source then is killed while that fetch is in flight.
  const hangingFrom = sim.requests.length;
  sim.inject({ kind: "hang", ms: HANG_MS });
  await waitFor(async () => sim.requests.slice(hangingFrom).some((request) => request.fault === "hang"), 30_000);
  const row = await sourceRow(tenant.id);
  const victim = row.lease_owner ? owners.get(row.lease_owner) : undefined;
  if (!victim || !row.lease_until) throw new Error(`no collector held the source during the hanging fetch (owner ${row.lease_owner})`);
  const exited = new Promise((resolve) => victim.child.once("exit", resolve));
  victim.child.kill("SIGKILL");
  await exited;
  const leaseExpiry = row.lease_until.getTime();
  const killedAt = sim.requests.length;

  // The survivor takes over once the lease has expired; then the killed one is started again.
  await waitFor(async () => sim.requests.length > killedAt, 30_000);
  const takeover = sim.requests[killedAt];
  const restarted = startCollector(cached);
  await restarted.owner;

  // To the end: the committed cursor at the feed's end and nothing more to do for a while.
  await waitFor(async () => (await sourceRow(tenant.id)).cursor === encodeCursor(TOTAL), 120_000);
  let stable = (await sourceRow(tenant.id)).pages_committed;
  for (let quiet = 0; quiet < 5;) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const now = (await sourceRow(tenant.id)).pages_committed;
    quiet = now === stable ? quiet + 1 : 0;
    stable = now;
  }
  for (const running of [...owners.values(), restarted]) await stopGracefully(running);

  const feedRequests = sim.requests.slice(firstRequest).filter((request) => request.path.endsWith("/events"));
  let backwards = 0;
  for (let i = 1; i < feedRequests.length; i++) {
    if ((feedRequests[i]?.position ?? 0) < (feedRequests[i - 1]?.position ?? 0)) backwards++;
  }
  const final = await sourceRow(tenant.id);
  return {
    tenantId: tenant.id,
    spec,
    backwards,
    pagesCommitted: final.pages_committed,
    eventsStored: final.events_stored,
    stored: await storedEventIds(tenant.id),
    expected: distinctIds(feedEvents(spec)),
    maxInFlight: sim.maxInFlight,
    takeoverAfterExpiryMs: (takeover?.at ?? 0) - leaseExpiry,
  };
}

describe("pull-mode race", () => {
  it("two collector processes, one SIGKILLed mid-fetch and restarted: every event stored once, every page once, the cursor never backwards, the model's state", async () => {
    const result = await race(31, false);
    expect(result.stored).toEqual(result.expected);
    expect(result.eventsStored).toBe(result.expected.length);
    expect(result.pagesCommitted).toBe(PAGES);
    expect(result.backwards).toBe(0);
    expect(result.maxInFlight).toBe(1);
    // Taken over after the lease expired (allowing for clock reading), and within one lease of that.
    expect(result.takeoverAfterExpiryMs).toBeGreaterThanOrEqual(-50);
    expect(result.takeoverAfterExpiryMs).toBeLessThan(LEASE_MS);

    await processAll();
    expect(await readItems(result.tenantId)).toEqual(asStored(modelState(feedEvents(result.spec))));
  }, 240_000);

  it("control: the same race with a cached cursor fetches behind the committed cursor and commits pages twice, which the checks above catch", async () => {
    const result = await race(32, true);
    expect(result.backwards).toBeGreaterThan(0);
    expect(result.pagesCommitted).toBeGreaterThan(PAGES);
  }, 240_000);
});
