// The bench's pure parts: arguments, percentiles, tables and ratios, and requests that the webhook would accept.
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { verifySignature } from "../ingest/signature.ts";
import { BenchUsageError, defaultWarmupSeconds, parseBenchArgs } from "./args.ts";
import { BenchStopping, Cleanup } from "./cleanup.ts";
import { SignedRequestSource, batchPayload, eventRow, multiRowInsert, signRequest, singleEventPayload, syntheticEvent } from "./signed-events.ts";
import { cpuRatio, ratio, renderTable, type Measurement } from "./report.ts";
import { LatencyRecorder, percentile } from "./percentiles.ts";
import { parseEvent } from "../ingest/envelope.ts";
import { canonicalJson, sha256 } from "../lib/canonical-json.ts";

describe("bench arguments", () => {
  it("defaults to every mode, 10 s runs and a 2 s warm-up", () => {
    const args = parseBenchArgs([], ["ingest", "apply"]);
    expect(args.modes).toEqual([]);
    expect(args.options).toEqual({ durationSeconds: 10, warmupSeconds: 2, connections: undefined, profile: false });
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
    expect(recorder.summary()).toEqual({ p50: 5_000, p99: 9_900, max: 10_000 });
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
