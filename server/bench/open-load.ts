/**
 * Open-model HTTP load: requests sent at a fixed arrival rate, whatever the
 * server does, with latency measured from each request's scheduled send
 * time — so a server that stalls is charged for every request that should
 * have gone out meanwhile (no coordinated omission, unlike a closed loop of
 * N connections that each wait for their answer before sending again).
 *
 * Request i is due at i × 1000/rate ms after the start. A timer checks the
 * clock about every millisecond and sends every request that is due (if the
 * bench itself falls behind, the late ones go out at once and their latency
 * still counts from when they were due; the worst such lag is reported).
 * Requests go over a keep-alive agent with at most `maxSockets`
 * connections; beyond that they wait in the agent's queue, and that wait is
 * part of their latency too.
 *
 * Every request sent is awaited (answered, or counted among the errors), so
 * a caller can account for every row, as with the closed-loop runs.
 */
import http from "node:http";
import { performance } from "node:perf_hooks";
import { LatencyRecorder, type LatencySummary } from "./percentiles.ts";
import type { SignedRequest } from "./signed-events.ts";

const REQUEST_TIMEOUT_MS = 30_000;
const TICK_MS = 1;

/** How many of the requests at `ratePerSecond` are due `elapsedMs` after the start (the first is due at 0), at most `total`. */
export function dueCount(elapsedMs: number, ratePerSecond: number, total: number): number {
  if (elapsedMs < 0) return 0;
  return Math.min(total, Math.floor((elapsedMs * ratePerSecond) / 1000) + 1);
}

/** When request `index` is due, in ms after the start. */
export function dueAt(index: number, ratePerSecond: number): number {
  return (index * 1000) / ratePerSecond;
}

export interface OpenLoadOptions {
  /** Full URL, path included. */
  url: string;
  ratePerSecond: number;
  durationSeconds: number;
  request: () => SignedRequest;
  maxSockets: number;
  /** Every answer: its status, body, the request's id, and its latency from the scheduled send (ms). */
  onResponse?: (status: number, body: string, requestId: string, latencyMs: number) => void;
  /** The epoch ms at which request `id` was due (for end-to-end figures measured elsewhere, e.g. in the database). */
  onScheduled?: (requestId: string, dueEpochMs: number) => void;
}

export interface OpenLoadResult {
  scheduled: number;
  /** Answers received (any status). */
  responses: number;
  /** Requests that got no answer: connection errors and timeouts. */
  errors: number;
  statuses: Record<string, number>;
  /** From the scheduled send to the end of the answer, over every answered request. */
  latency: LatencySummary | null;
  /** The bench's own lateness: how long after its due time the latest request actually went out (ms). */
  maxSendLagMs: number;
  /** From the first due time to the last answer. */
  seconds: number;
  /** Answers per second over `seconds`. */
  rate: number;
}

function send(agent: http.Agent, url: URL, request: SignedRequest): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      url,
      { method: "POST", agent, headers: { ...request.headers, "content-length": String(request.body.length) }, timeout: REQUEST_TIMEOUT_MS },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        response.on("error", reject);
      },
    );
    outgoing.on("timeout", () => outgoing.destroy(new Error("timeout")));
    outgoing.on("error", reject);
    outgoing.end(request.body);
  });
}

export async function runOpenLoad(options: OpenLoadOptions): Promise<OpenLoadResult> {
  const url = new URL(options.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets });
  const total = Math.max(1, Math.round(options.ratePerSecond * options.durationSeconds));
  const latency = new LatencyRecorder();
  const statuses: Record<string, number> = {};
  const inFlight: Promise<void>[] = [];
  let errors = 0;
  let sent = 0;
  let maxSendLagMs = 0;
  let lastAnswer = 0;
  const start = performance.now();

  const fire = (index: number) => {
    const due = start + dueAt(index, options.ratePerSecond);
    maxSendLagMs = Math.max(maxSendLagMs, performance.now() - due);
    const request = options.request();
    options.onScheduled?.(request.id, performance.timeOrigin + due);
    inFlight.push(
      send(agent, url, request).then(
        ({ status, body }) => {
          const now = performance.now();
          lastAnswer = Math.max(lastAnswer, now);
          latency.record(now - due);
          statuses[status] = (statuses[status] ?? 0) + 1;
          options.onResponse?.(status, body, request.id, now - due);
        },
        () => void errors++,
      ),
    );
  };

  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = dueCount(performance.now() - start, options.ratePerSecond, total);
      while (sent < due) fire(sent++);
      if (sent >= total) resolve();
      else setTimeout(tick, TICK_MS);
    };
    tick();
  });
  await Promise.all(inFlight);
  agent.destroy();
  const responses = latency.count;
  const seconds = Math.max(lastAnswer - start, 1) / 1000;
  return { scheduled: total, responses, errors, statuses, latency: latency.summary(), maxSendLagMs, seconds, rate: responses / seconds };
}
