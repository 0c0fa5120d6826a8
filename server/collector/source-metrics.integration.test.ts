/**
 * The collector's figures on /api/metrics, per source: pages committed,
 * events stored and fetches by result count what the source's row says
 * happened (a healthy source and one whose upstream answers 503), and the
 * lag and failure gauges show the one behind; however many sources there
 * are, the gauges name at most LAGGING_SOURCES of them plus `other`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scrapeMetrics } from "../../test/metrics.ts";
import { OTHER_LABEL } from "../lib/bounded-label.ts";
import { encodeCursor, type FeedSpec } from "../sim/feed.ts";
import { startSimServer, type SimServer } from "../sim/upstream.ts";
import { TEST_COLLECTOR, sourceRow, tenantWithSource } from "../../test/collector.ts";
import { waitFor } from "../../test/worker.ts";
import { Collector } from "./collector.ts";
import { LAGGING_SOURCES } from "./lag-metrics.ts";
import { pauseSource } from "./sources.ts";

let sim: SimServer;
let failing: http.Server;
let failingUrl: string;
beforeAll(async () => {
  sim = await startSimServer();
  failing = http.createServer((_request, response) => response.writeHead(503).end("down"));
  await new Promise<void>((resolve) => failing.listen(0, "127.0.0.1", resolve));
  failingUrl = `http://127.0.0.1:${(failing.address() as AddressInfo).port}/events`;
});
afterAll(async () => {
  await sim.close();
  await new Promise((resolve) => failing.close(resolve));
});

/** Every sample of `name` as label set (`k="v",…`) → value. */
function samples(text: string, name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const match of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, "gm"))) found.set(match[1] as string, Number(match[2]));
  return found;
}

describe("per-source collector metrics", () => {
  it("name at most the sources furthest behind plus one other, whatever the number of sources", async () => {
    const tenants = [];
    for (let i = 0; i < LAGGING_SOURCES + 5; i++) tenants.push(await tenantWithSource(failingUrl));
    const text = await scrapeMetrics();
    const lags = samples(text, "tidemark_collector_source_lag_seconds");
    expect(lags.size).toBe(LAGGING_SOURCES + 1);
    // Never caught up, so behind since their creation: the oldest are furthest behind, the newest are the rest.
    expect(lags.has(`tenant="${tenants[0]?.slug}"`)).toBe(true);
    expect(lags.has(`tenant="${tenants.at(-1)?.slug}"`)).toBe(false);
    expect(lags.get(`tenant="${OTHER_LABEL}"`)).toBeGreaterThanOrEqual(0);
    expect(samples(text, "tidemark_collector_source_consecutive_failures").size).toBe(LAGGING_SOURCES + 1);
    // Paused sources are not expected to keep up: they leave the gauges.
    for (const tenant of tenants) await pauseSource(tenant);
    expect(samples(await scrapeMetrics(), "tidemark_collector_source_lag_seconds").size).toBe(0);
  });

  it("count each source's pages, events and fetches by result as its row does, and show the failing one behind", async () => {
    const feed: Extract<FeedSpec, { kind: "fixed" }> = { seed: 8, kind: "fixed", total: 300 };
    const healthy = await tenantWithSource(sim.feedUrl(feed), { pageSize: 50 });
    const down = await tenantWithSource(failingUrl);
    const collector = new Collector(TEST_COLLECTOR);
    collector.start();
    try {
      await waitFor(async () => (await sourceRow(healthy.id)).cursor === encodeCursor(feed.total) && (await sourceRow(down.id)).consecutive_failures >= 3);
    } finally {
      await collector.stop();
    }
    const [good, bad] = [await sourceRow(healthy.id), await sourceRow(down.id)];
    const text = await scrapeMetrics();

    expect(samples(text, "tidemark_collector_pages_committed_total").get(`tenant="${healthy.slug}"`)).toBe(Number(good.pages_committed));
    expect(samples(text, "tidemark_collector_events_stored_total").get(`tenant="${healthy.slug}"`)).toBe(Number(good.events_stored));
    expect(samples(text, "tidemark_collector_pages_committed_total").has(`tenant="${down.slug}"`)).toBe(false);
    const fetches = samples(text, "tidemark_collector_fetches_total");
    expect(fetches.get(`tenant="${down.slug}",result="http_error"`)).toBe(bad.consecutive_failures);
    expect(fetches.get(`tenant="${healthy.slug}",result="ok"`)).toBeGreaterThanOrEqual(Number(good.pages_committed));
    expect(fetches.has(`tenant="${healthy.slug}",result="http_error"`)).toBe(false);

    const lags = samples(text, "tidemark_collector_source_lag_seconds");
    const failures = samples(text, "tidemark_collector_source_consecutive_failures");
    expect(failures.get(`tenant="${down.slug}"`)).toBe(bad.consecutive_failures);
    expect(failures.get(`tenant="${healthy.slug}"`)).toBe(0);
    // The healthy source was caught up a moment ago; the failing one never was.
    expect(lags.get(`tenant="${down.slug}"`)).toBeGreaterThan(lags.get(`tenant="${healthy.slug}"`) as number);
    expect(lags.get(`tenant="${healthy.slug}"`)).toBeLessThan(5);
  });
});
