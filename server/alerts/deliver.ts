/**
 * The alert delivery loop: sends the outbox (alert_deliveries) to the alert
 * target as Standard Webhooks-signed POSTs (server/ingest/signature.ts's
 * `sign`, the one the webhooks verify with), so the receiver verifies them
 * with the official `standardwebhooks` or `svix` libraries.
 *
 * Guarantees:
 * - Retried until acknowledged: a delivery is done only when the target
 *   answers 2xx; anything else (another status, a redirect, a timeout, a
 *   refused connection) retries with exponential backoff and jitter:
 *   about base × 2^(attempt−1), spread over its upper half, up to 10 minutes.
 * - Sent once per acknowledgement: the row is marked delivered right after the
 *   2xx, and never sent again. Every attempt carries the same webhook-id and
 *   the same body bytes (stored at firing time), so when a process dies between
 *   the 2xx and the mark, the receiver recognises the repeat and can dedupe.
 * - Any number of processes run the loop: a claim takes due rows with
 *   FOR UPDATE SKIP LOCKED and moves next_attempt_at a lease ahead in the same
 *   statement, so two processes never send a row at once, and a row whose
 *   sender died is due again when the lease ends.
 * - In order per alert: a resolution is not sent before its firing was
 *   acknowledged.
 * - Each attempt is signed at send time (webhook-timestamp is the attempt's),
 *   so a retry hours later is still within the receiver's replay window.
 */
import { pool, sql } from "../db.ts";
import { sign } from "../ingest/signature.ts";
import { jitterDown, type Random } from "../lib/jitter.ts";
import { metrics } from "../metrics.ts";
import { readAlertTarget } from "./target.ts";

export const RETRY_CAP_MS = 10 * 60_000;
const LEASE_GRACE_MS = 5_000;
const MAX_ERROR_LENGTH = 500;

export interface DeliveryOptions {
  timeoutMs: number;
  retryBaseMs: number;
  /** Rows per claim. */
  batch?: number;
  random?: Random;
}

export interface DeliveryRound {
  delivered: number;
  failed: number;
}

const CLAIM = `
UPDATE alert_deliveries d SET attempts = d.attempts + 1, next_attempt_at = now() + $1 * interval '1 millisecond'
 WHERE d.id IN (
   SELECT c.id FROM alert_deliveries c
    WHERE c.delivered_at IS NULL AND c.next_attempt_at <= now()
      AND NOT EXISTS (SELECT 1 FROM alert_deliveries e WHERE e.alert_id = c.alert_id AND e.id < c.id AND e.delivered_at IS NULL)
    ORDER BY c.next_attempt_at, c.id
    LIMIT $2
      FOR UPDATE SKIP LOCKED)
RETURNING d.id, d.webhook_id, d.body, d.attempts`;

/** The wait before the retry that follows failed attempt number `attempt` (1 for the first). */
export function retryDelayMs(attempt: number, baseMs: number, random: Random): number {
  return jitterDown(Math.min(RETRY_CAP_MS, baseMs * 2 ** Math.max(0, attempt - 1)), 0.5, random);
}

async function post(url: string, secret: string, webhookId: string, body: string, timeoutMs: number): Promise<string | null> {
  const timestamp = Math.floor(Date.now() / 1000);
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "tidemark-alerts",
        "webhook-id": webhookId,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": sign(secret, webhookId, timestamp, body),
      },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel().catch(() => undefined);
    return response.status >= 200 && response.status < 300 ? null : `HTTP ${response.status}`;
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause;
    return `${(error as Error).message}${cause ? `: ${cause.message}` : ""}`;
  }
}

/** Sends every due delivery once (each claimed row one attempt); does nothing while no target is set. */
export async function deliverDueAlerts(options: DeliveryOptions): Promise<DeliveryRound> {
  const round: DeliveryRound = { delivered: 0, failed: 0 };
  const target = await readAlertTarget();
  if (!target) return round;
  const claimed = await sql<{ id: number; webhook_id: string; body: string; attempts: number }>(pool, CLAIM, [
    options.timeoutMs + LEASE_GRACE_MS,
    options.batch ?? 100,
  ]);
  // Claimed rows belong to distinct alerts (one undelivered row per alert is due at a time): sent concurrently.
  await Promise.all(
    claimed.map(async (row) => {
      const failure = await post(target.url, target.secret, row.webhook_id, row.body, options.timeoutMs);
      if (failure === null) {
        await sql(pool, "UPDATE alert_deliveries SET delivered_at = now(), last_error = NULL WHERE id = $1 AND delivered_at IS NULL", [row.id]);
        round.delivered++;
        metrics.alertDeliveries.inc({ result: "delivered" });
        return;
      }
      const wait = retryDelayMs(row.attempts, options.retryBaseMs, options.random ?? Math.random);
      // Only the holder of this attempt reschedules it (a lease that ran out may have let another process in).
      await sql(
        pool,
        `UPDATE alert_deliveries SET next_attempt_at = now() + $3 * interval '1 millisecond', last_error = $4
          WHERE id = $1 AND attempts = $2 AND delivered_at IS NULL`,
        [row.id, row.attempts, wait, failure.slice(0, MAX_ERROR_LENGTH)],
      );
      round.failed++;
      metrics.alertDeliveries.inc({ result: "failed" });
    }),
  );
  return round;
}
