/**
 * The bench's child processes (the app, the build, the node:http floor).
 *
 * Their output goes to stderr, so that stdout holds only the tables. And
 * none outlives the bench: each is stopped by the cleanup it is registered
 * with, and as a last resort, any still running when the bench process exits
 * (an exit that skipped the cleanup) is killed then.
 */
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

/** Copies the child's output to stderr line by line, prefixed, keeping the last `keep` lines for error messages. */
export function forwardOutput(child: ChildProcess, kept: string[], prefix: string, keep: number): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => {
      if (line.trim() === "") return;
      kept.push(line);
      if (kept.length > keep) kept.shift();
      process.stderr.write(`${prefix} ${line}\n`);
    });
  }
}

const live = new Set<ChildProcess>();
let guarded = false;

/** Kills `child` if it is still running when this process exits. */
export function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once("exit", () => live.delete(child));
  if (guarded) return;
  guarded = true;
  process.once("exit", () => {
    for (const running of live) running.kill("SIGKILL");
  });
}
