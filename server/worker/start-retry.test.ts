import { describe, expect, it } from "vitest";
import { startWithRetry, workerState } from "./start-retry.ts";

/** A worker whose start fails `failures` times, then succeeds. */
function flaky(failures: number) {
  let calls = 0;
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  return {
    get calls() {
      return calls;
    },
    running,
    start: async () => {
      calls++;
      if (calls <= failures) throw new Error("connect ECONNREFUSED");
      started();
    },
  };
}

describe("startWithRetry", () => {
  it("a start that works at once is running after one attempt", async () => {
    const worker = flaky(0);
    expect(await startWithRetry(worker, { stopped: () => false })).toBe(true);
    expect(worker.calls).toBe(1);
    expect(workerState()).toBe("running");
  });

  it("a start that fails is retried until it runs, and reports retrying meanwhile", async () => {
    const worker = flaky(3);
    expect(await startWithRetry(worker, { stopped: () => false, baseMs: 1, capMs: 2, random: () => 0.5 })).toBe(false);
    expect(workerState()).toBe("retrying");
    await worker.running;
    await new Promise((resolve) => setImmediate(resolve)); // the attempt records its success after start() resolves
    expect(worker.calls).toBe(4);
    expect(workerState()).toBe("running");
  });

  it("stops retrying once the process stops", async () => {
    const worker = flaky(Number.POSITIVE_INFINITY);
    let stopping = false;
    expect(await startWithRetry(worker, { stopped: () => stopping, baseMs: 1, capMs: 1, random: () => 1 })).toBe(false);
    stopping = true;
    const calls = worker.calls;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(worker.calls).toBeLessThanOrEqual(calls + 1);
  });
});
