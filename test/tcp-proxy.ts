/**
 * A TCP proxy under the test's control, for putting a network fault between
 * the app and a real server (PostgreSQL, Redis). The network is outside the
 * system, so this is the one thing integration tests may fake.
 *
 * cut() refuses new connections (the port is closed) and drops the open
 * ones; blackhole() accepts connections and never answers (a server that
 * hangs, or packets lost on the way); stall() is blackhole() that also
 * keeps the open connections open but stops forwarding on them (a database
 * that stops answering mid-query: nothing is refused, nothing comes back);
 * restore() forwards again, on the same port, so the app's configuration
 * does not change across the fault (connections stalled meanwhile are
 * dropped: what they lost cannot be replayed).
 */
import net from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** Connections forwarded to the target so far. */
  readonly forwarded: number;
  cut(): Promise<void>;
  blackhole(): Promise<void>;
  stall(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

type Mode = "forward" | "blackhole" | "closed";

export async function startTcpProxy(target: { host: string; port: number }, options: { startCut?: boolean } = {}): Promise<TcpProxy> {
  let mode: Mode = "forward";
  let forwarded = 0;
  const open = new Set<net.Socket>();
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const stalled = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    // A dropped peer is the point of this proxy; its errors are expected.
    socket.on("error", () => socket.destroy());
  };

  const server = net.createServer((client) => {
    track(client);
    if (mode === "blackhole") {
      client.resume();
      stalled.add(client);
      return;
    }
    if (mode !== "forward") {
      client.destroy();
      return;
    }
    forwarded++;
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const pair = { client, upstream };
    pairs.add(pair);
    client.on("close", () => {
      pairs.delete(pair);
      upstream.destroy();
    });
    upstream.on("close", () => client.destroy());
  });

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      // close() waits for open connections; they are destroyed right after.
      server.close(() => resolve());
    });
  const dropAll = () => {
    for (const socket of open) socket.destroy();
  };

  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  if (options.startCut) {
    mode = "closed";
    await stopListening();
  }

  return {
    port,
    get forwarded() {
      return forwarded;
    },
    async cut() {
      mode = "closed";
      const closed = stopListening();
      dropAll();
      await closed;
    },
    async blackhole() {
      mode = "blackhole";
      dropAll();
      if (!server.listening) await listen(port);
    },
    async stall() {
      mode = "blackhole";
      for (const { client, upstream } of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        // Read and drop: the bytes go nowhere, and nothing is refused.
        client.resume();
        upstream.resume();
        stalled.add(client);
        stalled.add(upstream);
      }
      pairs.clear();
      if (!server.listening) await listen(port);
    },
    async restore() {
      mode = "forward";
      for (const socket of stalled) socket.destroy();
      stalled.clear();
      if (!server.listening) await listen(port);
    },
    async close() {
      mode = "closed";
      const closed = stopListening();
      dropAll();
      await closed;
    },
  };
}

/**
 * Puts a proxy between this test file's process and its server: `variable`
 * (DATABASE_URL or REDIS_URL, set per file by test/setup-integration.ts) is
 * rewritten to go through the proxy. Call it before any server module is
 * imported, since server/env.ts reads the environment at import. Returns
 * the proxy and the server's own URL, for a client of the test's that goes
 * straight to the server.
 */
export async function routeThroughProxy(variable: "DATABASE_URL" | "REDIS_URL"): Promise<{ proxy: TcpProxy; directUrl: string }> {
  const directUrl = process.env[variable];
  if (!directUrl) throw new Error(`${variable} is unset: test/setup-integration.ts gives each file its own`);
  const server = new URL(directUrl);
  const proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || (variable === "DATABASE_URL" ? 5432 : 6379)) });
  process.env[variable] = Object.assign(new URL(directUrl), { hostname: "127.0.0.1", port: String(proxy.port) }).toString();
  return { proxy, directUrl };
}
