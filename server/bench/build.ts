/**
 * The production build for the bench: `npm start`'s build-if-needed
 * (server/setup/build.ts: rebuilt only when the sources changed), run at most
 * once per bench process.
 *
 * It runs in a child process because buildIfNeeded gives `next build` the
 * inherited stdio, while the bench's stdout is for its tables. The child's
 * output is copied to stderr (prefixed "[build]"), where "another build is
 * running" can also be recognised.
 */
import { spawn } from "node:child_process";
import { forwardOutput } from "./children.ts";
import { PROJECT_ROOT } from "../setup/paths.ts";

const BUILD_LOCK_MESSAGE = "Another next build process is already running";
const BUILD_LOCK_RETRY_MS = 10_000;
const BUILD_LOCK_MAX_WAIT_MS = 15 * 60_000;

const BUILD_SCRIPT = `
import(${JSON.stringify(new URL("../setup/build.ts", import.meta.url).href)})
  .then((build) => build.buildIfNeeded(process.env, (line) => console.log(line)))
  .catch((error) => { console.error(error.message); process.exit(1); });
`;

function buildOnce(env: NodeJS.ProcessEnv): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "-e", BUILD_SCRIPT], { cwd: PROJECT_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    const kept: string[] = [];
    forwardOutput(child, kept, "[build]", Number.POSITIVE_INFINITY);
    child.on("error", reject);
    child.on("exit", (code) => resolve({ ok: code === 0, output: kept.join("\n") }));
  });
}

/**
 * `npm start`'s build-if-needed, at most once per bench process. Another
 * `next build` in the same checkout (another engineer's `npm start` or e2e
 * run) holds .next/lock: then this waits for it and tries again, since the
 * build it finishes may be the one needed.
 */
async function build(env: NodeJS.ProcessEnv, announce: (line: string) => void): Promise<void> {
  const deadline = Date.now() + BUILD_LOCK_MAX_WAIT_MS;
  for (;;) {
    const { ok, output } = await buildOnce(env);
    if (ok) return;
    if (!output.includes(BUILD_LOCK_MESSAGE) || Date.now() > deadline) throw new Error("next build failed (its output is above, prefixed [build])");
    announce(`another next build is running in this checkout; trying again in ${BUILD_LOCK_RETRY_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, BUILD_LOCK_RETRY_MS));
  }
}

let built: Promise<void> | null = null;

export function ensureBuild(env: NodeJS.ProcessEnv, announce: (line: string) => void): Promise<void> {
  built ??= build(env, announce);
  return built;
}
