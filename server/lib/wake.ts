/**
 * Wake-up of idle workers when new events are committed, without busy polling.
 *
 * Ingestion calls signalNewEvents() after its commit. Workers in the same
 * process wake at once (an in-process emitter, shared through globalThis so
 * that every Next.js bundle sees the same one); workers in other processes
 * wake on a PostgreSQL NOTIFY, sent at most once per NOTIFY_INTERVAL_MS per
 * process and outside the ingestion transaction (NOTIFY inside it would
 * serialise every commit on the notify queue's lock). Workers also poll every
 * WORKER_POLL_MS, so a lost signal delays work but never strands it.
 */
import { EventEmitter } from "node:events";
import type pg from "pg";
import { createListenClient, pool } from "../db.ts";
import { log, throttledLogger } from "../log.ts";

export const NEW_EVENTS_CHANNEL = "tidemark_new_events";
const NOTIFY_INTERVAL_MS = 50;
const LISTEN_RETRY_MS = 2_000;
const logNotifyFailure = throttledLogger(10_000);

interface WakeState {
  emitter: EventEmitter;
  notifyTimer: NodeJS.Timeout | undefined;
  lastNotifyAt: number;
}

const globalForWake = globalThis as unknown as { tidemarkWake?: WakeState };
const state: WakeState = (globalForWake.tidemarkWake ??= {
  emitter: new EventEmitter().setMaxListeners(0),
  notifyTimer: undefined,
  lastNotifyAt: 0,
});

export function signalNewEvents(): void {
  state.emitter.emit("new-events");
  if (state.notifyTimer) return;
  const delay = Math.max(0, state.lastNotifyAt + NOTIFY_INTERVAL_MS - Date.now());
  state.notifyTimer = setTimeout(() => {
    state.notifyTimer = undefined;
    state.lastNotifyAt = Date.now();
    pool
      .query("SELECT pg_notify($1, '')", [NEW_EVENTS_CHANNEL])
      .catch((error: Error) =>
        logNotifyFailure("notify", () => log.warn({ module: "wake", err: error.message }, "could not notify other processes of new events")),
      );
  }, delay);
  state.notifyTimer.unref();
}

/** Calls `onWake` whenever new events may be waiting. Returns a function that stops listening. */
export async function onNewEvents(onWake: () => void): Promise<() => Promise<void>> {
  state.emitter.on("new-events", onWake);
  let client: pg.Client | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;

  const endQuietly = (old: pg.Client | undefined) =>
    // Ending a connection that already failed can fail again; its error was logged when it failed.
    old?.end().catch((error: Error) => log.debug({ module: "wake", err: error.message }, "closing a failed LISTEN connection"));

  const reconnectLater = () => {
    if (stopped || retry) return;
    void endQuietly(client);
    retry = setTimeout(() => {
      retry = undefined;
      void connect();
    }, LISTEN_RETRY_MS);
    retry.unref();
  };

  const connect = async (): Promise<void> => {
    const next = createListenClient();
    client = next;
    next.on("notification", onWake);
    next.on("error", (error) => {
      log.warn({ module: "wake", err: error.message }, "LISTEN connection lost; polling until it is back");
      reconnectLater();
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${NEW_EVENTS_CHANNEL}`);
      onWake(); // anything committed while we were not listening
    } catch (error) {
      log.warn({ module: "wake", err: (error as Error).message }, "could not LISTEN for new events; polling until it can");
      reconnectLater();
    }
  };
  await connect();

  return async () => {
    stopped = true;
    clearTimeout(retry);
    state.emitter.off("new-events", onWake);
    await endQuietly(client);
  };
}
