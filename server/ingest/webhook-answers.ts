/**
 * Counts of webhook answers that stored nothing (429 rate-limited, 200
 * redelivered, 409 conflict, 422 invalid), per tenant and minute, for the
 * dashboard's outcome charts.
 *
 * They are gathered in memory and flushed every FLUSH_MS in one transaction,
 * so the hot path adds no database write and no round trip. The price, and
 * the guarantee: a process that dies loses at most FLUSH_MS of these counts
 * (never an event: these answers stored nothing), and a flush that fails is
 * retried with the counts kept.
 */
import { recordWebhookAnswers, type WebhookAnswer, type WebhookAnswerCount } from "../stats/rollups.ts";
import { transaction } from "../db.ts";
import { log, throttledLogger } from "../log.ts";

const FLUSH_MS = 5_000;
/** Beyond this many distinct (tenant, minute, answer) keys waiting, new counts are dropped and logged. */
const MAX_PENDING_KEYS = 100_000;
const MINUTE_MS = 60_000;
const logFlushFailure = throttledLogger(30_000);

interface AnswerState {
  pending: Map<string, WebhookAnswerCount>;
  timer: NodeJS.Timeout | undefined;
  flushing: Promise<void> | undefined;
}

const globalForAnswers = globalThis as unknown as { tidemarkWebhookAnswers?: AnswerState };
const state: AnswerState = (globalForAnswers.tidemarkWebhookAnswers ??= { pending: new Map(), timer: undefined, flushing: undefined });

function add(entry: WebhookAnswerCount): void {
  const key = `${entry.tenantId}:${entry.at.getTime()}:${entry.answer}`;
  const existing = state.pending.get(key);
  if (existing) {
    existing.count += entry.count;
    return;
  }
  if (state.pending.size >= MAX_PENDING_KEYS) {
    logFlushFailure("overflow", () => log.error({ module: "webhook-answers" }, "too many unflushed answer counts; dropping new ones"));
    return;
  }
  state.pending.set(key, { ...entry });
}

function scheduleFlush(): void {
  if (state.timer) return;
  state.timer = setTimeout(() => {
    state.timer = undefined;
    void flushWebhookAnswers();
  }, FLUSH_MS);
  state.timer.unref();
}

export function countWebhookAnswer(tenantId: number, answer: WebhookAnswer, count = 1): void {
  if (count <= 0) return;
  add({ tenantId, at: new Date(Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS), answer, count });
  scheduleFlush();
}

/** Writes every count gathered so far; safe to call at any time (shutdown, tests). */
export async function flushWebhookAnswers(): Promise<void> {
  if (state.flushing) await state.flushing;
  if (state.pending.size === 0) return;
  const batch = [...state.pending.values()];
  state.pending.clear();
  state.flushing = transaction((tx) => recordWebhookAnswers(tx, batch))
    .catch((error: Error) => {
      for (const entry of batch) add(entry);
      logFlushFailure("flush", () => log.warn({ module: "webhook-answers", err: error.message }, "could not flush webhook answer counts; will retry"));
      scheduleFlush();
    })
    .finally(() => {
      state.flushing = undefined;
    });
  await state.flushing;
}
