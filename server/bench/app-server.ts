/**
 * The real production app for the bench: the build `npm start` uses (see
 * ./build.ts), served by `npm start`'s own server (server/cli/serve.ts: the
 * webhook fast path in front of Next.js) in a child process on a free port
 * of 127.0.0.1, ready once /api/health answers 200.
 *
 * The child's output goes to stderr prefixed "[app] ", so warnings are seen
 * but never mix with the tables on stdout; its last lines are quoted if it
 * fails to start. stop() sends SIGTERM (the server drains and exits on it, which also
 * lets --cpu-prof write its profile) and SIGKILL after a grace period.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { ensureBuild } from "./build.ts";
import { forwardOutput, killOnExit } from "./children.ts";
import { PROJECT_ROOT, SERVE_SCRIPT } from "../setup/paths.ts";

const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 10_000;
const OUTPUT_LINES_KEPT = 40;

export interface AppServer {
  url: string;
  pid: number;
  /** The /api/health answer at start, e.g. {"ok":true,"database":"up","store":"up"}. */
  health: Record<string, unknown>;
  stop(): Promise<void>;
}

export interface AppOptions {
  env: NodeJS.ProcessEnv;
  /** Extra flags for node itself, e.g. ["--cpu-prof", "--cpu-prof-dir=/tmp/x"]. */
  nodeArgs?: string[];
  announce: (line: string) => void;
  /** Receives stop() as soon as the process exists, before it is ready, so that an interrupted start leaves nothing behind. */
  register: (label: string, stop: () => Promise<void>) => void;
}

/** A port the OS reports free now; the app binds it a moment later (a race the bench accepts). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") throw new Error("could not find a free port");
  return address.port;
}

async function waitForHealth(url: string, child: ChildProcess, output: string[]): Promise<Record<string, unknown>> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      throw new Error(`the app exited (${child.signalCode ?? `code ${child.exitCode}`}) before it was ready:\n${output.join("\n")}`);
    }
    try {
      const response = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(5_000) });
      const body = (await response.json()) as Record<string, unknown>;
      if (response.status === 200) return body;
      last = `${response.status} ${JSON.stringify(body)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the app did not become healthy within ${READY_TIMEOUT_MS / 1000} s (last: ${last}):\n${output.join("\n")}`);
}

export async function startApp(options: AppOptions): Promise<AppServer> {
  await ensureBuild(options.env, options.announce);
  const port = await freePort();
  const args = [...(options.nodeArgs ?? []), "--import", "tsx", SERVE_SCRIPT, "--port", String(port), "--hostname", "127.0.0.1"];
  const child = spawn(process.execPath, args, {
    cwd: PROJECT_ROOT,
    // A NODE_ENV inherited from a developer's shell would make Next.js run React in another mode.
    env: { ...options.env, NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  killOnExit(child);
  const output: string[] = [];
  forwardOutput(child, output, "[app]", OUTPUT_LINES_KEPT);
  child.on("error", (error) => output.push(`could not run the app: ${error.message}`));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
      await exited;
      clearTimeout(killer);
    })());

  options.register(`stop the app (pid ${child.pid})`, stop);

  const url = `http://127.0.0.1:${port}`;
  const health = await waitForHealth(url, child, output);
  return { url, pid: child.pid as number, health, stop };
}
