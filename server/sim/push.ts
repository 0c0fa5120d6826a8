/**
 * Push mode's simulated sender: the seeded feed of ./feed.ts sent to a
 * tenant's webhooks as Standard Webhooks, signed with the tenant's secret,
 * about half as single events and half in batches, at a steady rate. The
 * feed's repeats arrive as redeliveries (200 duplicate), its out-of-order
 * versions and early deletes as they would from a real system.
 *
 * Runs until `signal` aborts or `count` events were sent; reports what the
 * webhooks answered once a second.
 */
import { sign } from "../ingest/signature.ts";
import { eventsBetween, type FeedEvent, type FeedSpec } from "./feed.ts";

export interface PushOptions {
  /** The app's base URL, e.g. http://127.0.0.1:3000. */
  baseUrl: string;
  tenant: string;
  secret: string;
  ratePerSecond: number;
  seed: number;
  /** Stop after this many events (default: run until aborted). */
  count?: number;
  /** Largest batch (default 100). */
  batchSize?: number;
  signal?: AbortSignal;
  report?: (stats: PushStats) => void;
}

export interface PushStats {
  sent: number;
  accepted: number;
  duplicate: number;
  conflict: number;
  invalid: number;
  rateLimited: number;
  failed: number;
}

const TICK_MS = 250;
/** Single posts in flight at once. */
const SINGLE_CONCURRENCY = 8;

function signedInit(secret: string, id: string, body: string): RequestInit {
  const timestamp = Math.floor(Date.now() / 1000);
  return {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": sign(secret, id, timestamp, body),
    },
    body,
  };
}

function count(stats: PushStats, status: number, events: number): void {
  if (status === 202 || status === 200) return; // counted per event from the answer
  if (status === 429) stats.rateLimited += events;
  else if (status === 409) stats.conflict += events;
  else if (status === 422) stats.invalid += events;
  else stats.failed += events;
}

async function postSingle(options: PushOptions, stats: PushStats, event: FeedEvent): Promise<void> {
  const { id, ...envelope } = event;
  try {
    const response = await fetch(`${options.baseUrl}/api/webhooks/${options.tenant}`, {
      ...signedInit(options.secret, id, JSON.stringify(envelope)),
      signal: options.signal,
    });
    const body = (await response.json().catch(() => ({}))) as { status?: string };
    if (response.status === 202) stats.accepted++;
    else if (response.status === 200 && body.status === "duplicate") stats.duplicate++;
    else count(stats, response.status, 1);
  } catch {
    if (!options.signal?.aborted) stats.failed++;
  }
}

async function postBatch(options: PushOptions, stats: PushStats, events: FeedEvent[], batchId: string): Promise<void> {
  try {
    const response = await fetch(`${options.baseUrl}/api/webhooks/${options.tenant}/batch`, {
      ...signedInit(options.secret, batchId, JSON.stringify({ events })),
      signal: options.signal,
    });
    const body = (await response.json().catch(() => ({}))) as { results?: { status: keyof PushStats }[] };
    if ((response.status === 202 || response.status === 200 || response.status === 422) && body.results) {
      for (const result of body.results) if (result.status in stats) stats[result.status]++;
    } else count(stats, response.status, events.length);
  } catch {
    if (!options.signal?.aborted) stats.failed += events.length;
  }
}

export async function push(options: PushOptions): Promise<PushStats> {
  const spec: FeedSpec = { seed: options.seed, kind: "live", ratePerSecond: Math.max(1, Math.min(1_000, Math.round(options.ratePerSecond))) };
  const stats: PushStats = { sent: 0, accepted: 0, duplicate: 0, conflict: 0, invalid: 0, rateLimited: 0, failed: 0 };
  const batchSize = options.batchSize ?? 100;
  let position = 0;
  let owed = 0;
  let lastReport = Date.now();
  for (let tick = 0; !options.signal?.aborted && (options.count === undefined || stats.sent < options.count); tick++) {
    const started = Date.now();
    owed += (options.ratePerSecond * TICK_MS) / 1000;
    let n = Math.floor(owed);
    if (options.count !== undefined) n = Math.min(n, options.count - stats.sent);
    owed -= n;
    if (n > 0) {
      const events = eventsBetween(spec, position, position + n);
      position += n;
      stats.sent += n;
      // Half of them one by one, the rest in batches.
      const singles = events.slice(0, Math.ceil(n / 2));
      const batched = events.slice(singles.length);
      const work: Promise<void>[] = [];
      for (let i = 0; i < batched.length; i += batchSize)
        work.push(postBatch(options, stats, batched.slice(i, i + batchSize), `push-${options.seed}-${tick}-${i}`));
      for (let lane = 0; lane < SINGLE_CONCURRENCY; lane++) {
        work.push(
          (async () => {
            for (let i = lane; i < singles.length; i += SINGLE_CONCURRENCY) await postSingle(options, stats, singles[i] as FeedEvent);
          })(),
        );
      }
      await Promise.all(work);
    }
    if (Date.now() - lastReport >= 1_000) {
      options.report?.({ ...stats });
      lastReport = Date.now();
    }
    const wait = TICK_MS - (Date.now() - started);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  options.report?.({ ...stats });
  return stats;
}
