/**
 * The chaos run's senders: N concurrent loops that take the planned
 * deliveries in order, each at its planned moment, and post them signed
 * (Standard Webhooks) to the real webhooks of the app processes, single or
 * batch, as a tenant's system would: an answer it cannot count on (no answer,
 * a reset, 429, 5xx) is retried, re-signed, on the next app, until a 2xx.
 *
 * What it records is what the checks compare with the database: every event
 * id an app answered 2xx for (202 accepted, 200 duplicate, or "accepted" /
 * "duplicate" inside a batch's results), and every answer the contract does
 * not allow for these deliveries (a 4xx other than 429, a conflict or an
 * invalid event: all of them are valid, and redeliveries are byte-identical).
 *
 * A thin event (PlannedEvent.thin) is posted in its thin form (wireBody in
 * ./plan.ts), alone or in a batch, the same way every time it is sent.
 */
import { sign } from "../ingest/signature.ts";
import { wireBody, type Delivery, type PlannedEvent } from "./plan.ts";

const REQUEST_TIMEOUT_MS = 15_000;
const RETRY_BASE_MS = 100;
const RETRY_CAP_MS = 2_000;

export interface DeliveryTarget {
  /** Base URLs of the app processes. */
  apps: string[];
  /** Tenant index → slug and webhook secret. */
  tenants: { slug: string; secret: string }[];
}

export interface DeliveryLog {
  /** `${tenant}/${eventId}` of every event answered 2xx. */
  acknowledged: Set<string>;
  /** Answers outside the contract, described. */
  unexpected: string[];
  requests: number;
  retries: number;
  /** Attempts answered by status (0: no answer). */
  byStatus: Map<number, number>;
  delivered: number;
}

export const ackKey = (tenant: number, eventId: string) => `${tenant}/${eventId}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface BatchResult {
  id: string;
  status: string;
}

async function postSigned(url: string, secret: string, id: string, body: string): Promise<{ status: number; json: unknown }> {
  const timestamp = Math.floor(Date.now() / 1000);
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": sign(secret, id, timestamp, body),
    },
    body,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, json };
}

const envelope = (event: PlannedEvent) => ({ id: event.id, ...wireBody(event) });

/** Sends one delivery until it is answered 2xx; records what was acknowledged. */
async function send(delivery: Delivery, index: number, target: DeliveryTarget, log: DeliveryLog): Promise<void> {
  const tenant = target.tenants[delivery.tenant];
  if (!tenant) throw new Error(`no tenant ${delivery.tenant}`);
  for (let attempt = 0; ; attempt++) {
    const app = target.apps[(index + attempt) % target.apps.length] as string;
    let answer: { status: number; json: unknown };
    try {
      log.requests++;
      answer =
        delivery.channel === "single"
          ? await postSigned(`${app}/api/webhooks/${tenant.slug}`, tenant.secret, delivery.event.id, JSON.stringify(wireBody(delivery.event)))
          : await postSigned(
              `${app}/api/webhooks/${tenant.slug}/batch`,
              tenant.secret,
              delivery.batchId,
              JSON.stringify({ events: delivery.events.map(envelope) }),
            );
    } catch {
      answer = { status: 0, json: null };
    }
    log.byStatus.set(answer.status, (log.byStatus.get(answer.status) ?? 0) + 1);
    if (answer.status >= 200 && answer.status < 300) {
      record(delivery, answer, log);
      log.delivered++;
      return;
    }
    if (answer.status !== 0 && answer.status !== 429 && answer.status < 500) {
      log.unexpected.push(`${describe(delivery)}: ${answer.status} ${JSON.stringify(answer.json).slice(0, 200)}`);
      return;
    }
    log.retries++;
    await sleep(Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random() / 2));
  }
}

function describe(delivery: Delivery): string {
  return delivery.channel === "single" ? `event ${delivery.event.id}` : `batch ${delivery.batchId}`;
}

function record(delivery: Delivery, answer: { status: number; json: unknown }, log: DeliveryLog): void {
  if (delivery.channel === "single") {
    log.acknowledged.add(ackKey(delivery.tenant, delivery.event.id));
    return;
  }
  const results = (answer.json as { results?: BatchResult[] } | null)?.results;
  if (!Array.isArray(results) || results.length !== delivery.events.length) {
    log.unexpected.push(`batch ${delivery.batchId}: ${answer.status} without one result per event`);
    return;
  }
  for (const result of results) {
    if (result.status === "accepted" || result.status === "duplicate") log.acknowledged.add(ackKey(delivery.tenant, result.id));
    else log.unexpected.push(`batch ${delivery.batchId}: event ${result.id} ${result.status}`);
  }
}

/**
 * Runs `senders` loops over the deliveries: each takes the next one, waits for
 * its planned moment (counted from `startedAt`), and sends it. Resolves when
 * every delivery is answered.
 */
export async function deliverAll(deliveries: readonly Delivery[], target: DeliveryTarget, senders: number, startedAt: number, log: DeliveryLog): Promise<void> {
  let next = 0;
  const loop = async () => {
    for (let index = next++; index < deliveries.length; index = next++) {
      const delivery = deliveries[index] as Delivery;
      const wait = startedAt + delivery.atMs - Date.now();
      if (wait > 0) await sleep(wait);
      await send(delivery, index, target, log);
    }
  };
  await Promise.all(Array.from({ length: senders }, loop));
}

export function newDeliveryLog(): DeliveryLog {
  return { acknowledged: new Set(), unexpected: [], requests: 0, retries: 0, byStatus: new Map(), delivered: 0 };
}
