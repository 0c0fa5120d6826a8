/**
 * A failing upstream, and its recovery. The simulated upstream answers the
 * first page with, in turn: 500, 500, no answer within the timeout, a body
 * that is not JSON, JSON that is not the page shape, a stuck cursor
 * (has_more with the same cursor) and a page over the size limit; then the
 * real page with an invalid event added to it. Each failure backs off
 * exponentially with full jitter (a fixed random source makes the delays
 * exact) and shows in `source status`, as the admin CLI prints it; the
 * recovery resets the failures; the invalid event is counted and passed
 * over. At the end nothing is lost and nothing is stored twice, and the
 * items are the model's.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { metrics } from "../metrics.ts";
import { modelState } from "../core/model.ts";
import { encodeCursor, type FeedSpec } from "../sim/feed.ts";
import { startSimServer, type Fault, type SimServer } from "../sim/upstream.ts";
import { TEST_COLLECTOR, distinctIds, feedEvents, sourceRow, storedEventIds, tenantWithSource } from "../../test/collector.ts";
import { asStored, readItems } from "../../test/events.ts";
import { processAll, waitFor } from "../../test/worker.ts";
import { Collector } from "./collector.ts";
import { pauseSource, requireSourceStatus, resumeSource, type SourceStatus } from "./sources.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const BASE_MS = 400;
const CAP_MS = 3_200;
const TIMEOUT_MS = 300;
/** The injected random source: every full-jitter delay is half its ceiling. */
const HALF = () => 0.5;

let sim: SimServer;
beforeAll(async () => {
  sim = await startSimServer();
});
afterAll(async () => {
  await sim.close();
});

function cliStatus(slug: string): Promise<SourceStatus> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "server/cli/tidemark.ts"), "source", "status", "--tenant", slug], {
      cwd: ROOT,
      env: process.env,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(stdout) as SourceStatus) : reject(new Error(`exit ${code}: ${stderr}`))));
  });
}

async function fetchCounts(): Promise<Record<string, number>> {
  const { values } = await metrics.collectorFetches.get();
  const counts: Record<string, number> = {};
  for (const value of values) counts[String(value.labels.result)] = (counts[String(value.labels.result)] ?? 0) + value.value;
  return counts;
}

describe("a failing upstream", () => {
  it("500s, a timeout, malformed pages, a stuck cursor, an oversized page and an invalid event: backoff shown, recovery, nothing lost or stored twice", async () => {
    const spec: FeedSpec = { seed: 41, kind: "fixed", total: 600 };
    const tenant = await tenantWithSource(sim.feedUrl(spec), { pageSize: 100, intervalMs: 100 });
    const invalidEvent = { id: "bad-event-1", type: "item.created", timestamp: "2026-11-27T10:00:00Z", data: { id: "item-x", version: 0 } };
    const failures: { fault: Fault; error: RegExp }[] = [
      { fault: { kind: "status", status: 500 }, error: /HTTP 500/ },
      { fault: { kind: "status", status: 503 }, error: /HTTP 503/ },
      { fault: { kind: "hang", ms: TIMEOUT_MS * 3 }, error: new RegExp(`within ${TIMEOUT_MS} ms`) },
      { fault: { kind: "malformed", json: false }, error: /not valid JSON/ },
      { fault: { kind: "malformed" }, error: /not \{"events","next_cursor","has_more"\}/ },
      { fault: { kind: "stuck" }, error: /has_more but its next_cursor/ },
      { fault: { kind: "oversize", bytes: 2 * TEST_COLLECTOR.maxPageBytes }, error: /larger than/ },
    ];
    // After them: the first page, with an invalid event; then the second page stuck once (its
    // next_cursor equal to the cursor asked for), then all is well.
    sim.inject(...failures.map((failure) => failure.fault), { kind: "extra-event", event: invalidEvent }, { kind: "stuck" });
    const countsBefore = await fetchCounts();

    const collector = new Collector({ ...TEST_COLLECTOR, fetchTimeoutMs: TIMEOUT_MS, backoffBaseMs: BASE_MS, backoffCapMs: CAP_MS, random: HALF });
    collector.start();
    try {
      for (const [n, failure] of failures.entries()) {
        await waitFor(async () => (await sourceRow(tenant.id)).consecutive_failures === n + 1, 20_000);
        const status = await requireSourceStatus(tenant);
        expect(status).toMatchObject({ consecutiveFailures: n + 1, waitingFor: "backoff", cursor: null, eventsStored: 0, pagesCommitted: 0 });
        expect(status.lastError).toMatch(failure.error);
        // Full jitter at 0.5: half of min(cap, base · 2^(failures before this one)), from when the record was written.
        const delay = 0.5 * Math.min(CAP_MS, BASE_MS * 2 ** n);
        const waited = Date.parse(status.nextFetchAt) - Date.parse(status.lastFetchAt as string);
        expect(waited).toBeGreaterThanOrEqual(delay - 5);
        expect(waited).toBeLessThan(delay + TIMEOUT_MS * 2 + 500);
        if (n === failures.length - 1) {
          // Held here, the admin CLI prints the same: the failures, the last error, the backoff.
          await pauseSource(tenant);
          const printed = await cliStatus(tenant.slug);
          expect(printed).toMatchObject({
            tenant: tenant.slug,
            consecutiveFailures: failures.length,
            waitingFor: "backoff",
            paused: true,
            lastSuccessAt: null,
          });
          expect(printed.lastError).toMatch(failure.error);
          await resumeSource(tenant);
        }
      }

      // The upstream healed: the first page comes, with its invalid event, and the failures are gone.
      await waitFor(async () => (await sourceRow(tenant.id)).cursor === encodeCursor(spec.total), 30_000);
    } finally {
      await collector.stop();
    }

    const status = await requireSourceStatus(tenant);
    const expected = distinctIds(feedEvents(spec));
    expect(status).toMatchObject({
      consecutiveFailures: 0,
      lastError: null,
      waitingFor: null,
      pagesCommitted: 6,
      eventsStored: expected.length,
      eventsInvalid: 1,
    });
    expect(status.lastInvalid).toContain('"bad-event-1"');
    expect(status.lastInvalid).toContain("data.version");
    expect(await storedEventIds(tenant.id)).toEqual(expected);
    const { rows } = await pool.query<{ invalid: number }>("SELECT sum(invalid)::int AS invalid FROM rollup_counts WHERE tenant_id = $1 AND resolution = 60", [
      tenant.id,
    ]);
    expect(rows[0]?.invalid).toBe(1);

    const counts = await fetchCounts();
    const grew = (result: string) => (counts[result] ?? 0) - (countsBefore[result] ?? 0);
    expect({ http: grew("http_error"), timeout: grew("timeout"), malformed: grew("malformed"), stuck: grew("stuck_cursor"), large: grew("too_large") }).toEqual(
      {
        http: 2,
        timeout: 1,
        malformed: 2,
        stuck: 2,
        large: 1,
      },
    );

    await processAll();
    expect(await readItems(tenant.id)).toEqual(asStored(modelState(feedEvents(spec))));
  }, 90_000);
});
