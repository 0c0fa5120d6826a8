/**
 * The process's one logger (pino, JSON lines on stdout). Modules take a child
 * with their own `module` field rather than creating loggers.
 */
import pino from "pino";
import { env } from "./env.ts";

export const log = pino(
  {
    level: env.NODE_ENV === "test" && env.LOG_LEVEL === "info" ? "warn" : env.LOG_LEVEL,
    base: { pid: process.pid },
  },
  pino.destination({ fd: env.LOG_DESTINATION === "stderr" ? 2 : 1, sync: true }),
);

/** Logs at most once per `intervalMs` per key: for errors that can repeat on every request. */
export function throttledLogger(intervalMs: number) {
  const last = new Map<string, number>();
  return (key: string, write: () => void) => {
    const now = Date.now();
    if ((last.get(key) ?? 0) + intervalMs > now) return;
    last.set(key, now);
    write();
  };
}
