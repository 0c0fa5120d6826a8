/**
 * The process's one logger (pino, JSON lines on stdout). Modules take a child
 * with their own `module` field rather than creating loggers.
 *
 * Guarantees:
 * - A line written while a request is handled carries its `requestId`
 *   (server/lib/request-id.ts).
 * - Secrets never reach a line: the fields that could hold one (secrets,
 *   tokens, passwords, signatures, authorization and cookie headers), at the
 *   top level or one object down, are replaced by "[redacted]". Code never
 *   logs a secret's value in any other field (log-secrets.integration.test.ts
 *   runs the flows that handle secrets and searches every line for them).
 */
import pino from "pino";
import { env } from "./env.ts";
import { currentRequestId } from "./lib/request-id.ts";

const SECRET_KEYS = [
  "secret",
  "previousSecret",
  "token",
  "password",
  "passwordHash",
  "authorization",
  "cookie",
  "signature",
  '"webhook-signature"',
  '"svix-signature"',
  '"set-cookie"',
];

export const REDACTED_PATHS = [...SECRET_KEYS, ...SECRET_KEYS.map((key) => `*.${key}`)];

export const log = pino(
  {
    level: env.NODE_ENV === "test" && env.LOG_LEVEL === "info" ? "warn" : env.LOG_LEVEL,
    base: { pid: process.pid },
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    mixin: () => {
      const requestId = currentRequestId();
      return requestId === undefined ? {} : { requestId };
    },
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
