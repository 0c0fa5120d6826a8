// The bench's pure parts: arguments, percentiles, tables and ratios, and requests that the webhook would accept.
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { verifySignature } from "../ingest/signature.ts";
import { BenchUsageError, defaultWarmupSeconds, parseBenchArgs } from "./args.ts";
import { BenchStopping, Cleanup } from "./cleanup.ts";
import { SignedRequestSource, batchPayload, eventRow, multiRowInsert, signRequest, singleEventPayload, syntheticEvent } from "./signed-events.ts";
import { cpuRatio, ratio, renderTable, type Measurement, type ModeReport } from "./report.ts";
import { formatSpread, median, spread, summarizeMode } from "./summary.ts";
import { modeResults, renderHtml, type ModeResult } from "./results.ts";
import { dueAt, dueCount } from "./open-load.ts";
import { rssGauges } from "./rss.ts";
import { LatencyRecorder, percentile } from "./percentiles.ts";
import { parseEvent } from "../ingest/envelope.ts";
import { canonicalJson, sha256 } from "../lib/canonical-json.ts";

describe("bench arguments", () => {
  it("defaults to every mode, once, 10 s runs, a 2 s warm-up and a 60 s fixed-rate run", () => {
    const args = parseBenchArgs([], ["ingest", "apply"]);
    expect(args.modes).toEqual([]);
    expect(args.repeat).toBe(1);
    expect(args.options).toEqual({ durationSeconds: 10, warmupSeconds: 2, connections: undefined, openSeconds: 60, profile: false });
  });

  it("takes --repeat and --open-seconds, and refuses a repeat that is not a positive integer", () => {
    const args = parseBenchArgs(["--repeat", "3", "--open-seconds", "20"], ["ingest"]);
    expect(args.repeat).toBe(3);
    expect(args.options.openSeconds).toBe(20);
    expect(() => parseBenchArgs(["--repeat", "0"], ["ingest"])).toThrow(/--repeat must be an integer from 1 to 100/);
    expect(() => parseBenchArgs(["--repeat", "1.5"], ["ingest"])).toThrow(BenchUsageError);
  });

  it("takes modes and overrides", () => {
    const args = parseBenchArgs(["ingest", "--duration", "5", "--connections", "20", "--warmup", "0.5"], ["ingest"]);
    expect(args.modes).toEqual(["ingest"]);
    expect(args.options).toMatchObject({ durationSeconds: 5, warmupSeconds: 0.5, connections: 20 });
  });

  it("refuses an unknown mode, naming the known ones", () => {
    expect(() => parseBenchArgs(["ingst"], ["ingest"])).toThrow(/unknown mode ingst; the modes are: ingest/);
  });

  it("refuses a bad number, naming the flag", () => {
    expect(() => parseBenchArgs(["--connections", "2.5"], ["ingest"])).toThrow(BenchUsageError);
    expect(() => parseBenchArgs(["--duration", "0"], ["ingest"])).toThrow(/--duration must be a number from 1/);
  });

  it("warms up for a fifth of the run, within 1–3 s", () => {
    expect([1, 5, 10, 60].map(defaultWarmupSeconds)).toEqual([1, 1, 2, 3]);
  });
});

describe("latency statistics", () => {
  it("takes nearest-rank percentiles", () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
  });

  it("records past its initial capacity", () => {
    const recorder = new LatencyRecorder();
    for (let i = 10_000; i >= 1; i--) recorder.record(i);
    expect(recorder.count).toBe(10_000);
    expect(recorder.summary()).toEqual({ p50: 5_000, p95: 9_500, p99: 9_900, max: 10_000 });
    expect(new LatencyRecorder().summary()).toBeNull();
  });
});

describe("report", () => {
  const measurement = (id: string, rate: number): Measurement => ({
    id,
    label: id,
    unit: "req/s",
    rate,
    count: rate,
    seconds: 1,
    connections: 1,
    latency: null,
    notes: [],
  });

  it("divides rates by id, and has no value when a side is missing or zero", () => {
    const measurements = [measurement("a", 500), measurement("b", 1_000), measurement("z", 0)];
    expect(ratio(measurements, "a/b", "a", "b").value).toBe(0.5);
    expect(ratio(measurements, "a/missing", "a", "missing").value).toBeNull();
    expect(ratio(measurements, "a/z", "a", "z").value).toBeNull();
  });

  it("divides CPU per unit the other way, a missing group costing nothing", () => {
    const app = { ...measurement("app", 100), cpu: { server: { microsPerUnit: 300, cores: 1 }, postgres: { microsPerUnit: 100, cores: 0.3 } } };
    const raw = { ...measurement("raw", 1_000), cpu: { postgres: { microsPerUnit: 50, cores: 1 } } };
    expect(cpuRatio([app, raw], "app/raw", "app", "raw", ["server", "postgres"]).value).toBe(50 / 400);
    expect(cpuRatio([app, measurement("none", 1)], "app/none", "app", "none", ["server"]).value).toBeNull();
  });

  it("aligns columns", () => {
    expect(
      renderTable(
        ["name", "n"],
        [
          ["a", "1"],
          ["bbb", "22"],
        ],
        new Set([1]),
      ),
    ).toBe("name   n\n────  ──\na      1\nbbb   22");
  });
});

describe("bench requests", () => {
  it("are signed as the Standard Webhooks library signs, and verify with the app's verifier", () => {
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const request = signRequest(secret, singleEventPayload("wh", 7), 1_700_000_000);
    const expected = new Webhook(secret).sign(request.id, new Date(1_700_000_000 * 1000), request.body.toString());
    expect(request.headers["webhook-signature"]).toBe(expected);
    expect(() =>
      verifySignature(
        { id: request.id, timestamp: request.headers["webhook-timestamp"] as string, signatureHeader: expected, body: request.body },
        [secret],
        1_700_000_000,
      ),
    ).not.toThrow();
  });

  it("carry envelopes the webhook accepts", () => {
    expect(() => parseEvent("wh-1", JSON.parse(singleEventPayload("wh", 1).body.toString()))).not.toThrow();
    const batch = JSON.parse(batchPayload("bt", 3, 5).body.toString()) as { events: { id: string }[] };
    expect(batch.events.map((event) => event.id)).toEqual(["bt-3-0", "bt-3-1", "bt-3-2", "bt-3-3", "bt-3-4"]);
    for (const event of batch.events) expect(() => parseEvent(event.id, event)).not.toThrow();
  });

  it("hand out each request once, then sign on demand, and count those", () => {
    const source = new SignedRequestSource("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", (seq) => singleEventPayload("wh", seq));
    expect(source.precompute(2)).toBe(2);
    const ids = [source.next().id, source.next().id, source.next().id];
    expect(ids).toEqual(["wh-0", "wh-1", "wh-2"]);
    expect(source.signedLive).toBe(1);
  });

  it("become rows with the webhook's hash and columns", () => {
    const event = syntheticEvent(12_345);
    const row = eventRow(9, "e-1", event);
    expect(row.slice(0, 5)).toEqual([9, "e-1", "item.updated", "item-2345", 2]);
    expect(row[6]).toEqual(sha256(canonicalJson(parseEvent("e-1", event).body)));
    expect(multiRowInsert(2)).toContain("VALUES ($1, $2, $3, $4, $5, $6, $7, $8), ($9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT");
  });
});

describe("cleanup", () => {
  it("undoes in reverse order, once, even when a step fails", async () => {
    const done: string[] = [];
    const cleanup = new Cleanup();
    cleanup.add("database", async () => void done.push("database"));
    cleanup.add("broken", async () => {
      throw new Error("boom");
    });
    cleanup.add("app", async () => void done.push("app"));
    await Promise.all([cleanup.run(), cleanup.run()]);
    await cleanup.run();
    expect(done).toEqual(["app", "database"]);
  });

  it("runs an early undo once, and not again at the end", async () => {
    let stops = 0;
    const cleanup = new Cleanup();
    const stopNow = cleanup.add("app", async () => void stops++);
    await stopNow();
    await stopNow();
    await cleanup.run();
    expect(stops).toBe(1);
  });

  it("undoes at once what is started while stopping, and stops the caller", async () => {
    const done: string[] = [];
    const cleanup = new Cleanup();
    let release: () => void = () => undefined;
    cleanup.add("slow", () => new Promise<void>((resolve) => (release = resolve)));
    const stopping = cleanup.run();
    expect(() => cleanup.add("late app", async () => void done.push("late app"))).toThrow(BenchStopping);
    release();
    await stopping;
    expect(done).toEqual(["late app"]);
  });
});

describe("repeats: median and range", () => {
  it("takes the middle value, or the mean of the two middle ones", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it("spreads finite values in run order, skipping runs without one", () => {
    expect(spread([5, null, 1, 3, undefined])).toEqual({ median: 3, min: 1, max: 5, values: [5, 1, 3] });
    expect(spread([null, Number.NaN])).toBeNull();
  });

  const run = (rates: Record<string, number>, p99: number, ok = true): ModeReport => {
    const measurements: Measurement[] = Object.entries(rates).map(([id, rate]) => ({
      id,
      label: `${id} label`,
      unit: "events/s",
      rate,
      count: rate,
      seconds: 1,
      connections: 50,
      latency: { p50: p99 / 10, p95: p99 / 2, p99, max: p99 * 2 },
      cpu: { server: { microsPerUnit: 1e6 / rate, cores: 1 } },
      gauges: { rssMaxMb: rate / 10 },
      notes: [],
    }));
    return {
      mode: "ingest",
      title: "ingest",
      context: [],
      measurements,
      ratios: [ratio(measurements, "c/a", "webhook-single", "node-http-noop")],
      checks: [{ label: "rows", ok, detail: "" }],
    };
  };

  it("summarises every figure and ratio by stable id across runs", () => {
    const summary = summarizeMode([
      run({ "node-http-noop": 20_000, "webhook-single": 4_000 }, 30),
      run({ "node-http-noop": 10_000, "webhook-single": 3_000 }, 10, false),
      run({ "node-http-noop": 16_000, "webhook-single": 4_800 }, 20),
    ]);
    expect(summary.runs).toBe(3);
    expect(summary.measurements.map((m) => m.id)).toEqual(["node-http-noop", "webhook-single"]);
    const single = summary.measurements[1];
    expect(single?.rate).toEqual({ median: 4_000, min: 3_000, max: 4_800, values: [4_000, 3_000, 4_800] });
    expect(single?.latency?.p99).toEqual({ median: 20, min: 10, max: 30, values: [30, 10, 20] });
    expect(single?.latency?.p95.median).toBe(10);
    expect(single?.gauges?.rssMaxMb?.median).toBe(400);
    expect(single?.cpuMicrosPerUnit?.server?.median).toBe(250);
    // The ratio's median is the median of each run's own ratio (0.2, 0.3, 0.3), not a ratio of medians.
    expect(summary.ratios[0]?.value).toEqual({ median: 0.3, min: 0.2, max: 0.3, values: [0.2, 0.3, 0.3] });
    expect(summary.checks.map((c) => `${c.label}:${c.ok}`)).toEqual(["run 1: rows:true", "run 2: rows:false", "run 3: rows:true"]);
  });

  it("summarises a figure only some runs reached over those runs", () => {
    const summary = summarizeMode([run({ "webhook-single": 4_000 }, 5), run({ "webhook-single": 2_000, "webhook-batch": 9_000 }, 5)]);
    expect(summary.measurements.find((m) => m.id === "webhook-batch")).toMatchObject({ runs: 1, rate: { median: 9_000, values: [9_000] } });
  });

  it("formats a spread as median (min–max), and one run as its value", () => {
    const f = (n: number) => String(n);
    expect(formatSpread({ median: 2, min: 1, max: 3, values: [1, 2, 3] }, f)).toBe("2 (1–3)");
    expect(formatSpread({ median: 2, min: 2, max: 2, values: [2] }, f)).toBe("2");
    expect(formatSpread(null, f)).toBe("–");
  });

  it("keeps the JSON's shape: modes by name, figures by today's ids, each run kept", () => {
    const results = modeResults([
      run({ "node-http-noop": 20_000, "webhook-single": 4_000 }, 30),
      run({ "node-http-noop": 10_000, "webhook-single": 3_000 }, 10),
    ]);
    expect(Object.keys(results)).toEqual(["ingest"]);
    const ingest = results.ingest as ModeResult;
    expect(ingest.runs).toBe(2);
    expect(ingest.perRun).toHaveLength(2);
    expect(ingest.perRun[1]?.measurements.map((m) => [m.id, m.rate])).toEqual([
      ["node-http-noop", 10_000],
      ["webhook-single", 3_000],
    ]);
    expect(ingest.measurements.map((m) => [m.id, m.rate.median])).toEqual([
      ["node-http-noop", 15_000],
      ["webhook-single", 3_500],
    ]);
    // It survives JSON as it is.
    expect(JSON.parse(JSON.stringify(results))).toEqual(results);
  });

  it("renders a self-contained page: escaped text, inline SVG, nothing fetched", () => {
    const results = modeResults([run({ "<script>x</script>": 10 }, 5), run({ "<script>x</script>": 12 }, 6)]);
    const html = renderHtml({
      bench: "tidemark",
      schema: 2,
      ok: true,
      startedAt: "2026-12-02T19:00:00.000Z",
      finishedAt: "2026-12-02T19:10:00.000Z",
      command: "npm run bench -- ingest --repeat 2",
      repeat: 2,
      machine: null,
      options: {},
      profileDir: null,
      modes: results,
    });
    expect(html).not.toContain("<script>");
    expect(html).toContain("&lt;script&gt;x&lt;/script&gt;");
    expect(html).toContain("<svg");
    expect(html).not.toMatch(/(src|href)=["']?https?:/);
  });
});

describe("open-model scheduling", () => {
  it("makes request i due at i/rate, whatever was answered", () => {
    expect(dueAt(0, 100)).toBe(0);
    expect(dueAt(250, 100)).toBe(2_500);
    // At 100/s: the first at 0 ms, one more every 10 ms, capped at the total.
    expect([0, 9.9, 10, 995, 5_000].map((ms) => dueCount(ms, 100, 100))).toEqual([1, 1, 2, 100, 100]);
    expect(dueCount(-1, 100, 100)).toBe(0);
  });

  it("sends every due request even when the timer fires late (no coordinated omission)", () => {
    // A timer that fires once after 500 ms at 1,000/s owes 501 requests at once, not one.
    expect(dueCount(500, 1_000, 10_000)).toBe(501);
  });
});

describe("RSS gauges", () => {
  it("compare the first and last tenth: flat is near 0, a leak is its growth", () => {
    const flat = Array.from({ length: 60 }, (_, i) => 300 + (i % 2));
    expect(rssGauges(flat).rssGrowthMb).toBeCloseTo(0, 0);
    const leak = Array.from({ length: 60 }, (_, i) => 300 + i);
    expect(rssGauges(leak)).toMatchObject({ rssStartMb: 300, rssMaxMb: 359, rssEndMb: 359, rssFirstTenthMb: 302.5, rssLastTenthMb: 356.5, rssGrowthMb: 54 });
    expect(rssGauges([])).toEqual({});
  });
});
