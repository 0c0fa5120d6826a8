/**
 * HTTP load with autocannon, measured over a fixed window and then drained.
 *
 * A run is a priming round (one request per connection, all answered), a
 * warm-up phase (not reported) and a measured phase, each on fresh
 * keep-alive connections. The rate is the responses completed inside the
 * window divided by its length. When the window closes, no connection starts
 * another request, but every request already sent is awaited (autocannon's
 * own stop would cut them off while the server may still commit them); so
 * every request sent is either answered, its status counted, or counted
 * among the errors. That is what lets a caller compare the rows in the
 * database with the 202s received, exactly.
 *
 * The drain relies on two fields of autocannon's per-connection Client
 * (`reqsMade`, `responseMax`: it ends a connection once reqsMade reaches
 * responseMax, checked after each response). They are checked at run time,
 * so an autocannon upgrade that renames them fails here, loudly.
 */
import autocannon from "autocannon";
import { performance } from "node:perf_hooks";
import type { CpuMeter, CpuSeconds } from "./cpu.ts";
import type { SignedRequest } from "./signed-events.ts";
import { LatencyRecorder, type LatencySummary } from "./percentiles.ts";

/** Added to autocannon's own duration so that its timer never ends a phase before the drain does. */
const DRAIN_ALLOWANCE_SECONDS = 60;
const REQUEST_TIMEOUT_SECONDS = 30;

export interface FixedRequest {
  method: "POST";
  headers: Record<string, string>;
  body: Buffer;
}

export interface HttpLoadOptions {
  /** Full URL, path included. */
  url: string;
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** The same request every time (floors), or a new request per call (each id used once). */
  request: FixedRequest | (() => SignedRequest);
  /** Sees every response's status and body with the webhook-id it answers; keep it cheap. */
  onResponse?: (status: number, body: string, requestId: string) => void;
  /** Called with the warm-up's figures before the measured phase starts. */
  afterWarmup?: (warmup: PhaseResult) => void;
  /** Measures CPU over the measured window (prepared after the warm-up, read at the window's edges). */
  meter?: CpuMeter;
}

export interface PhaseResult {
  /** Responses completed inside the window. */
  responses: number;
  seconds: number;
  rate: number;
  latency: LatencySummary | null;
  /** Every response of the phase by HTTP status, drain included. */
  statuses: Record<string, number>;
  /** Connection errors and timeouts: requests that may or may not have reached the server. */
  errors: number;
  timeouts: number;
  /** CPU seconds per meter source over the window; null without a meter. */
  cpu: CpuSeconds | null;
}

export interface HttpLoadResult extends PhaseResult {
  warmup: PhaseResult;
  /** Statuses of warm-up and measured phase together: every response of the run. */
  allStatuses: Record<string, number>;
}

interface ClientInternals {
  reqsMade: number;
  responseMax?: number;
}

function asInternals(client: autocannon.Client): ClientInternals {
  const internals = client as unknown as Partial<ClientInternals>;
  if (typeof internals.reqsMade !== "number") {
    throw new Error("autocannon's Client has no numeric reqsMade: the drain in server/bench/http-load.ts needs updating for this autocannon version");
  }
  return internals as ClientInternals;
}

function requestOptions(options: HttpLoadOptions): Partial<autocannon.Options> {
  const { request, onResponse } = options;
  if (typeof request !== "function") return { method: request.method, headers: request.headers, body: request.body };
  // One request in flight per connection (no pipelining), so the connection's context names the request being answered.
  const context = (value: object) => value as { requestId?: string };
  return {
    method: "POST",
    requests: [
      {
        setupRequest: (template, ctx) => {
          const next = request();
          context(ctx).requestId = next.id;
          return { ...template, headers: { ...next.headers }, body: next.body };
        },
        onResponse: onResponse ? (status, body, ctx) => onResponse(status, body, context(ctx).requestId ?? "") : undefined,
      },
    ],
  };
}

/** Starts autocannon with the bench's settings; resolves with its result. */
function launch(
  options: HttpLoadOptions,
  limits: { duration: number } | { amount: number },
  hooks: { setupClient?: (client: autocannon.Client) => void; onStart?: () => void; onResponse: (status: number, responseTime: number) => void },
): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        ...limits,
        timeout: REQUEST_TIMEOUT_SECONDS,
        pipelining: 1,
        ...(hooks.setupClient ? { setupClient: hooks.setupClient } : {}),
        ...requestOptions(options),
      },
      (error, result) => (error || !result ? reject(error ?? new Error("autocannon returned no result")) : resolve(result)),
    );
    if (hooks.onStart) instance.on("start", hooks.onStart);
    instance.on("response", (_client: autocannon.Client, status: number, _bytes: number, responseTime: number) => hooks.onResponse(status, responseTime));
  });
}

function count(statuses: Record<string, number>, status: number): void {
  statuses[status] = (statuses[status] ?? 0) + 1;
}

/**
 * One request per connection, every one awaited (autocannon's `amount`): the
 * first requests load the route's code and open the app's pools, which can
 * take longer than a short warm-up on a busy machine.
 */
async function prime(options: HttpLoadOptions): Promise<Pick<PhaseResult, "statuses" | "errors" | "timeouts">> {
  const statuses: Record<string, number> = {};
  const result = await launch(options, { amount: options.connections }, { onResponse: (status) => count(statuses, status) });
  return { statuses, errors: result.errors, timeouts: result.timeouts };
}

async function phase(options: HttpLoadOptions, seconds: number, meter?: CpuMeter): Promise<PhaseResult> {
  const clients: ClientInternals[] = [];
  const statuses: Record<string, number> = {};
  const latency = new LatencyRecorder();
  let inWindow = true;
  let responses = 0;
  let startedAt = 0;
  let endedAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let cpu: CpuSeconds | null = null;

  const closeWindow = () => {
    inWindow = false;
    endedAt = performance.now();
    cpu = meter?.close() ?? null;
    // Each connection ends after the answer to the request it has in flight. One still connecting has
    // sent nothing: it may send one (0 would mean "no limit" to autocannon).
    for (const client of clients) client.responseMax = Math.max(1, client.reqsMade);
  };

  const result = await launch(
    options,
    { duration: seconds + DRAIN_ALLOWANCE_SECONDS },
    {
      setupClient: (client) => void clients.push(asInternals(client)),
      onStart: () => {
        meter?.open();
        startedAt = performance.now();
        timer = setTimeout(closeWindow, seconds * 1000);
      },
      onResponse: (status, responseTime) => {
        count(statuses, status);
        if (!inWindow) return;
        responses++;
        latency.record(responseTime);
      },
    },
  ).finally(() => clearTimeout(timer));
  if (inWindow) closeWindow(); // autocannon ended on its own (every connection failed): the window ends now
  const window = (endedAt - startedAt) / 1000;
  return {
    responses,
    seconds: window,
    rate: window > 0 ? responses / window : 0,
    latency: latency.summary(),
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    cpu,
  };
}

function emptyPhase(): PhaseResult {
  return { responses: 0, seconds: 0, rate: 0, latency: null, statuses: {}, errors: 0, timeouts: 0, cpu: null };
}

function addStatuses(into: Record<string, number>, from: Record<string, number>): Record<string, number> {
  for (const [status, n] of Object.entries(from)) into[status] = (into[status] ?? 0) + n;
  return into;
}

/** Priming, warm-up (reported with the priming's answers), then the measured window. */
export async function runHttpLoad(options: HttpLoadOptions): Promise<HttpLoadResult> {
  const primed = await prime(options);
  const warmedUp = options.warmupSeconds > 0 ? await phase(options, options.warmupSeconds) : emptyPhase();
  const warmup: PhaseResult = {
    ...warmedUp,
    statuses: addStatuses({ ...primed.statuses }, warmedUp.statuses),
    errors: warmedUp.errors + primed.errors,
    timeouts: warmedUp.timeouts + primed.timeouts,
  };
  options.afterWarmup?.(warmup);
  await options.meter?.prepare();
  const measured = await phase(options, options.durationSeconds, options.meter);
  return { ...measured, warmup, allStatuses: addStatuses({ ...warmup.statuses }, measured.statuses) };
}
