/**
 * Graceful shutdown, proven under load: the real production server
 * (server/cli/serve.ts, built by `npm start`'s build-if-needed, with its
 * in-app worker and collector) takes a steady signed webhook load (single
 * events over many keep-alive connections, plus batches) and a pull source,
 * and is sent SIGTERM in the middle of it. Then:
 * - every request answered 2xx has all of its events stored;
 * - every request with a stored event was answered 2xx: no connection reset,
 *   error or non-2xx after a commit; a request that was refused (503, a
 *   refused or closed connection) stored nothing;
 * - the process exits 0 within EXIT_BOUND_MS of the signal;
 * - no event is left claimed and no source leased;
 * - the worker and the collector logged their stop after the server's drain,
 *   and the process its final "stopped" with status 0.
 *
 * The control, TIDEMARK_FAULT=exit-on-sigterm (the process exits at the
 * signal without draining), must break at least one of these, so the test
 * can fail.
 */
import { createWriteStream, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuild } from "../bench/build.ts";
import { batchPayload, signRequest, singleEventPayload, type Payload } from "../bench/signed-events.ts";
import { leftoverLeases } from "../chaos/checks.ts";
import { appProcess, freePort } from "../chaos/processes.ts";
import { setSource } from "../collector/sources.ts";
import { pool } from "../db.ts";
import type { Fault } from "../faults.ts";
import { startSimServer, type SimServer } from "../sim/upstream.ts";
import { keepAliveClient } from "../../test/http-client.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { waitFor } from "../../test/worker.ts";

const SINGLE_SENDERS = 32;
const BATCH_SENDERS = 4;
const BATCH_SIZE = 20;
/** The signal comes once this much was answered 2xx (and some was processed), however slow the machine is. */
const ANSWERED_BEFORE_SIGNAL = { singles: 150, batches: 5 };
/** The drain's own bounds are 8 s for HTTP and 10 s for the worker; a clean drain under this load takes far less. */
const EXIT_BOUND_MS = 12_000;

interface Sent {
  eventIds: string[];
  batch: boolean;
  /** The HTTP status, or the client error's code (ECONNREFUSED, ECONNRESET, …). */
  outcome: number | string;
  sentAfterSignal: boolean;
  /** Sent before the signal, answered (or failed) after it. */
  inFlightAtSignal: boolean;
}

interface Findings {
  sent: Sent[];
  stored: Set<string>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  exitMs: number;
  leases: { claims: number; events: number; sources: number };
  processedBeforeExit: number;
  logLines: string[];
}

let sim: SimServer;
beforeAll(async () => {
  // The production server serves the build; the first run (or one after a source change) builds it.
  await ensureBuild(process.env, () => undefined);
  sim = await startSimServer({ latencyMs: 5 });
}, 600_000);
afterAll(async () => {
  await sim?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const is2xx = (outcome: number | string) => typeof outcome === "number" && outcome >= 200 && outcome < 300;

async function shutdownUnderLoad(label: string, fault?: Fault): Promise<Findings> {
  const tenant = await createTestTenant({ ratePerSecond: 1_000_000, burst: 10_000_000, maxConcurrency: 16 });
  const puller = await createTestTenant({ ratePerSecond: 1_000_000, burst: 10_000_000 });
  await setSource(puller, { url: sim.feedUrl({ seed: 5, kind: "fixed", total: 1_000_000 }), pageSize: 50, intervalMs: 100 });

  const logFile = path.join(mkdtempSync(path.join(tmpdir(), "tidemark-shutdown-")), "app.log");
  const log = createWriteStream(logFile);
  const port = await freePort(null, new Set());
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOG_LEVEL: "info",
    WORKER_CONCURRENCY: "2",
    WORKER_POLL_MS: "50",
    COLLECTOR_CONCURRENCY: "1",
    ...(fault ? { TIDEMARK_FAULT: fault, TIDEMARK_CHAOS: "1" } : {}),
  };
  const app = appProcess(label, port, env, log, () => undefined);
  await app.start();

  const client = keepAliveClient(SINGLE_SENDERS + BATCH_SENDERS);
  const url = `http://127.0.0.1:${port}/api/webhooks/${tenant.slug}`;
  const sent: Sent[] = [];
  let signalled = false;
  let loadOn = true;
  let seq = 0;
  const send = async (batch: boolean): Promise<void> => {
    const n = seq++;
    const payload: Payload = batch ? batchPayload(`${label}-b`, n, BATCH_SIZE) : singleEventPayload(`${label}-s`, n);
    const eventIds = batch ? Array.from({ length: BATCH_SIZE }, (_, k) => `${payload.id}-${k}`) : [payload.id];
    const request = signRequest(tenant.secret, payload);
    const sentAfterSignal = signalled;
    const outcome = await client.post(batch ? `${url}/batch` : url, request.headers, payload.body.toString()).then(
      (reply) => reply.status,
      (error: NodeJS.ErrnoException) => error.code ?? error.message,
    );
    sent.push({ eventIds, batch, outcome, sentAfterSignal, inFlightAtSignal: !sentAfterSignal && signalled });
  };
  const sender = async (batch: boolean) => {
    while (loadOn) await send(batch);
  };
  const senders = [...Array.from({ length: SINGLE_SENDERS }, () => sender(false)), ...Array.from({ length: BATCH_SENDERS }, () => sender(true))];

  const answered = (batch: boolean) => sent.filter((s) => s.batch === batch && is2xx(s.outcome)).length;
  await waitFor(
    async () =>
      answered(false) >= ANSWERED_BEFORE_SIGNAL.singles &&
      answered(true) >= ANSWERED_BEFORE_SIGNAL.batches &&
      (await pool.query("SELECT 1 FROM events WHERE tenant_id = $1 AND status = 'done' LIMIT 1", [tenant.id])).rowCount === 1,
    60_000,
  );
  const signalledAt = Date.now();
  signalled = true;
  await app.stop();
  const exitMs = Date.now() - signalledAt;
  // A little load after the exit: those requests meet a closed port.
  await sleep(200);
  loadOn = false;
  await Promise.all(senders);
  client.close();
  await new Promise((resolve) => log.end(resolve));

  const { rows } = await pool.query<{ event_id: string; status: string }>("SELECT event_id, status FROM events WHERE tenant_id = $1", [tenant.id]);
  return {
    sent,
    stored: new Set(rows.map((row) => row.event_id)),
    exit: app.lastExit,
    exitMs,
    leases: await leftoverLeases(pool, [tenant.id, puller.id]),
    processedBeforeExit: rows.filter((row) => row.status === "done").length,
    logLines: readFileSync(logFile, "utf8").split("\n"),
  };
}

/** The guarantees these findings break, described (empty: all hold). */
function brokenGuarantees(findings: Findings): string[] {
  const broken: string[] = [];
  const answeredNotStored = findings.sent.filter((s) => is2xx(s.outcome) && !s.eventIds.every((id) => findings.stored.has(id)));
  if (answeredNotStored.length > 0) broken.push(`${answeredNotStored.length} requests answered 2xx without all their events stored`);
  const storedNotAnswered = findings.sent.filter((s) => !is2xx(s.outcome) && s.eventIds.some((id) => findings.stored.has(id)));
  if (storedNotAnswered.length > 0) {
    const outcomes = [...new Set(storedNotAnswered.map((s) => s.outcome))].join(", ");
    broken.push(`${storedNotAnswered.length} requests with stored events were not answered 2xx (${outcomes})`);
  }
  if (findings.exit?.code !== 0 || findings.exit.signal !== null) broken.push(`exited ${JSON.stringify(findings.exit)}`);
  if (findings.exitMs > EXIT_BOUND_MS) broken.push(`exited ${findings.exitMs} ms after SIGTERM (bound ${EXIT_BOUND_MS} ms)`);
  if (findings.leases.claims > 0 || findings.leases.sources > 0) {
    broken.push(`${findings.leases.claims} claims (${findings.leases.events} events) still held, ${findings.leases.sources} sources still leased`);
  }
  const messages = findings.logLines.map((line) => (/"msg":"([^"]*)"/.exec(line)?.[1] ?? "") + (/"status":(\d+)/.exec(line)?.[1] ?? ""));
  const order = ["shutting down", "collector stopped", "worker stopped", "stopped0"].map((message) => messages.indexOf(message));
  if (order.some((at, i) => at === -1 || (i > 0 && at < (order[i - 1] as number)))) broken.push(`the stop was not logged in order (${order.join(", ")})`);
  return broken;
}

function summary(findings: Findings): string {
  const counts = new Map<string, number>();
  for (const s of findings.sent)
    counts.set(`${s.batch ? "batch" : "single"} ${s.outcome}`, (counts.get(`${s.batch ? "batch" : "single"} ${s.outcome}`) ?? 0) + 1);
  const inFlight = findings.sent.filter((s) => s.inFlightAtSignal);
  const afterSignal = findings.sent.filter((s) => s.sentAfterSignal);
  return [
    `${findings.sent.length} requests, ${findings.stored.size} events stored, ${findings.processedBeforeExit} processed`,
    `answers: ${[...counts].map(([key, n]) => `${key}: ${n}`).join(", ")}`,
    `in flight at the signal: ${inFlight.length}, of which ${inFlight.filter((s) => is2xx(s.outcome)).length} answered 2xx`,
    `sent after the signal: ${afterSignal.length}, of which ${afterSignal.filter((s) => is2xx(s.outcome)).length} answered 2xx`,
    `exit ${JSON.stringify(findings.exit)} after ${findings.exitMs} ms`,
  ].join("; ");
}

describe("the production server, sent SIGTERM under load", () => {
  it("answers after commit or refuses before any work, gives back every claim and lease, and exits 0 in time", { timeout: 150_000 }, async () => {
    const findings = await shutdownUnderLoad("drain");
    console.log(`graceful shutdown: ${summary(findings)}`);
    // The signal met real work: requests in flight at it, and (checked before it) answers and processed events.
    expect(findings.sent.filter((s) => s.inFlightAtSignal).length).toBeGreaterThan(0);
    expect(brokenGuarantees(findings), summary(findings)).toEqual([]);
  });

  it("control: a build that exits at SIGTERM without draining (TIDEMARK_FAULT=exit-on-sigterm) breaks a guarantee", { timeout: 150_000 }, async () => {
    const findings = await shutdownUnderLoad("nodrain", "exit-on-sigterm");
    const broken = brokenGuarantees(findings);
    console.log(`graceful shutdown control: ${summary(findings)}; broken: ${broken.join("; ")}`);
    expect(broken).not.toEqual([]);
  });
});
