/**
 * The processes a chaos run starts, and only those: app processes (the
 * production server, server/cli/serve.ts), `npm run worker` processes
 * (server/cli/worker.ts) and a Redis server of its own (redis-server on a
 * loopback port, --save "", never the machine's 6379).
 *
 * Each is a Managed process: start() spawns it and waits until it is ready
 * (an app answers /api/health with 200, a worker prints that it is
 * processing, Redis answers PING); kill() sends SIGKILL and waits for the
 * exit; stop() sends SIGTERM (a graceful drain) and SIGKILL after a grace.
 * A start that ends before the process is ready (a worker whose migration
 * check met the database cut) is retried; a ready process that exits
 * without being told to is a crash: counted (a check fails on it) and
 * started again, so the run never goes on with fewer processes than it
 * planned. Every line of output is kept in a
 * log file of the run's directory, and none outlives the chaos process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { WriteStream } from "node:fs";
import net from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import { PROJECT_ROOT, SERVE_SCRIPT } from "../setup/paths.ts";

const READY_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 15_000;
const WORKER_SCRIPT = path.join(PROJECT_ROOT, "server", "cli", "worker.ts");
const LIGHT_APP_SCRIPT = path.join(PROJECT_ROOT, "server", "chaos", "webhook-app.ts");

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

interface Spec {
  label: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  ready: (managed: Managed) => Promise<void>;
}

export class Managed {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private intended = true;
  private ready = false;
  private restart: NodeJS.Timeout | null = null;
  private lastLines: string[] = [];
  private readyLine: ((line: string) => void) | null = null;
  /** Exits nobody asked for after the process was ready (each followed by a restart): crashes. */
  crashes = 0;
  /** Starts that ended before the process was ready (e.g. a worker's migration check met the database cut), retried. */
  failedStarts = 0;
  /** How the last child exited (null while none has). */
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  constructor(
    private readonly spec: Spec,
    private readonly log: WriteStream,
    private readonly announce: (line: string) => void,
  ) {}

  get label(): string {
    return this.spec.label;
  }

  /** Started and ready, and not being stopped or restarted. */
  get isReady(): boolean {
    return this.running && this.ready && !this.intended;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves on the first output line matching `pattern`. */
  waitForLine(pattern: RegExp): Promise<void> {
    return new Promise((resolve) => {
      this.readyLine = (line) => {
        if (!pattern.test(line)) return;
        this.readyLine = null;
        resolve();
      };
    });
  }

  /** Starts the process (unless it runs) and waits until it is ready, starting it again while it exits before that. */
  async start(): Promise<void> {
    this.cancelRestart();
    if (this.running) return;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      try {
        await this.startOnce(deadline);
        return;
      } catch (error) {
        if (this.intended || Date.now() > deadline || this.running) throw error;
        this.failedStarts++;
        await sleep(500);
      }
    }
  }

  private async startOnce(deadline: number): Promise<void> {
    this.intended = false;
    this.ready = false;
    const child = spawn(this.spec.command, this.spec.args, { cwd: PROJECT_ROOT, env: this.spec.env, stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    live.add(child);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => {
        this.log.write(`${new Date().toISOString()} [${this.spec.label} ${child.pid}] ${line}\n`);
        this.lastLines.push(line);
        if (this.lastLines.length > 20) this.lastLines.shift();
        this.readyLine?.(line);
      });
    }
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        live.delete(child);
        this.lastExit = { code, signal };
        resolve();
        if (this.intended || this.child !== child || !this.ready) return;
        this.crashes++;
        this.announce(`${this.spec.label} exited on its own (${signal ?? `code ${code}`}); starting it again`);
        this.restart = setTimeout(() => {
          this.restart = null;
          void this.start().catch((error: Error) => this.announce(`${this.spec.label} did not come back: ${error.message}`));
        }, 500);
      }),
    );
    child.on("error", (error) => this.lastLines.push(`could not run: ${error.message}`));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.spec.label} was not ready within ${READY_TIMEOUT_MS / 1000} s: ${this.lastLines.join(" | ")}`)),
        Math.max(0, deadline - Date.now()),
      );
    });
    try {
      await Promise.race([this.spec.ready(this), timeout]);
      this.ready = true;
    } finally {
      clearTimeout(timer);
    }
  }

  private cancelRestart(): void {
    if (this.restart) clearTimeout(this.restart);
    this.restart = null;
  }

  async kill(): Promise<void> {
    this.cancelRestart();
    this.intended = true;
    this.child?.kill("SIGKILL");
    await this.exited;
  }

  async stop(): Promise<void> {
    this.cancelRestart();
    this.intended = true;
    if (!this.running) return this.exited;
    this.child?.kill("SIGTERM");
    const killer = setTimeout(() => this.child?.kill("SIGKILL"), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(killer);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` holds or the process being started has died (start()'s timeout bounds the wait). */
async function until(managed: Managed, check: () => Promise<boolean>): Promise<void> {
  for (;;) {
    if (await check().catch(() => false)) return;
    if (!managed.running) throw new Error(`${managed.label} exited while starting`);
    await sleep(200);
  }
}

/** The production server (server/cli/serve.ts), or with `light` the webhook fast path alone (./webhook-app.ts). */
export function appProcess(label: string, port: number, env: NodeJS.ProcessEnv, log: WriteStream, announce: (line: string) => void, light = false): Managed {
  return new Managed(
    {
      label,
      command: process.execPath,
      args: ["--import", "tsx", light ? LIGHT_APP_SCRIPT : SERVE_SCRIPT, "--port", String(port), "--hostname", "127.0.0.1"],
      env: { ...env, NODE_ENV: "production" },
      ready: (managed) =>
        until(managed, async () => (await fetch(`http://127.0.0.1:${port}/api/health`, { signal: AbortSignal.timeout(2_000) })).status === 200),
    },
    log,
    announce,
  );
}

export function workerProcess(label: string, env: NodeJS.ProcessEnv, log: WriteStream, announce: (line: string) => void): Managed {
  return new Managed(
    {
      label,
      command: process.execPath,
      args: ["--import", "tsx", WORKER_SCRIPT],
      env,
      ready: async (managed) => {
        let processing = false;
        void managed.waitForLine(/processing with/).then(() => (processing = true));
        await until(managed, () => Promise.resolve(processing));
      },
    },
    log,
    announce,
  );
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.setTimeout(1_000, () => socket.destroy());
    socket.on("error", () => resolve(false));
    socket.on("close", () => resolve(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => {
      resolve(data.toString().startsWith("+PONG"));
      socket.destroy();
    });
  });
}

/** A Redis server of the run's own: loopback only, nothing saved, restarted on the same port. */
export function redisProcess(port: number, log: WriteStream, announce: (line: string) => void): Managed {
  return new Managed(
    {
      label: "redis",
      command: "redis-server",
      args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"],
      env: process.env,
      ready: (managed) => until(managed, () => ping(port)),
    },
    log,
    announce,
  );
}

/** A port from `range` (or any, when null) that nothing listens on now. */
export async function freePort(range: { from: number; to: number } | null, taken: Set<number>): Promise<number> {
  const candidates = range ? Array.from({ length: range.to - range.from + 1 }, (_, i) => range.from + i) : [0];
  for (const candidate of candidates) {
    if (taken.has(candidate)) continue;
    const port = await new Promise<number | null>((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(null));
      server.listen(candidate, "127.0.0.1", () => {
        const address = server.address() as net.AddressInfo;
        server.close(() => resolve(address.port));
      });
    });
    if (port !== null && !taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${range ? `${range.from}-${range.to}` : "the system's range"}`);
}
