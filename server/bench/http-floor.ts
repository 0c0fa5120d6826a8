/**
 * The HTTP floor: a raw node:http server that reads the request body and
 * answers 200 with the same small JSON the Next.js no-op route sends.
 *
 * It runs in a child process of its own, so it gets a core's worth of event
 * loop as the app does, instead of sharing the bench's with autocannon.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { killOnExit } from "./children.ts";

// Plain CommonJS for `node -e`: no build, no TypeScript loader in the measured process.
const SERVER_SOURCE = `
const http = require("node:http");
const body = '{"status":"ok"}';
const server = http.createServer((req, res) => {
  req.on("data", () => {});
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => process.stdout.write(JSON.stringify({ port: server.address().port }) + "\\n"));
process.on("SIGTERM", () => process.exit(0));
`;

export interface HttpFloorServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** `register` receives stop() as soon as the process exists, as for the app. */
export async function startHttpFloor(register: (label: string, stop: () => Promise<void>) => void): Promise<HttpFloorServer> {
  const child = spawn(process.execPath, ["-e", SERVER_SOURCE], { stdio: ["ignore", "pipe", "inherit"] });
  killOnExit(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const failed = new Promise<Error>((resolve) => child.once("error", resolve));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    child.kill("SIGTERM");
    await exited;
  };
  register(`stop the node:http floor (pid ${child.pid})`, stop);
  const lines = createInterface({ input: child.stdout });
  const first = await Promise.race([once(lines, "line").then(([line]) => line as string), exited.then(() => null), failed]);
  if (first === null) throw new Error("the node:http floor server exited before listening");
  if (first instanceof Error) throw new Error(`could not start the node:http floor server: ${first.message}`);
  const { port } = JSON.parse(first) as { port: number };
  return { url: `http://127.0.0.1:${port}`, pid: child.pid as number, stop };
}
