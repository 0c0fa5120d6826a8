/**
 * Captures the process logger's output (server/log.ts) in a test: every JSON
 * line pino writes goes to `lines` as well as being dropped from the terminal.
 * The logger's destination is outside what is tested (it only moves bytes),
 * so swapping its write is the one seam; the lines are pino's own output,
 * redaction and mixin applied. The level is lowered to `trace` meanwhile, so
 * every line the code would ever write is seen.
 */
import pino from "pino";
import { log } from "../server/log.ts";

export interface LogCapture {
  readonly lines: string[];
  stop(): void;
}

export function captureLogs(): LogCapture {
  const stream = Reflect.get(log, pino.symbols.streamSym) as { write: (chunk: string) => boolean };
  const original = stream.write;
  const lines: string[] = [];
  const level = log.level;
  log.level = "trace";
  stream.write = (chunk: string) => {
    lines.push(...chunk.split("\n").filter((line) => line !== ""));
    return true;
  };
  return {
    lines,
    stop: () => {
      stream.write = original;
      log.level = level;
    },
  };
}
