/**
 * The TCP proxy the chaos run puts between every process it starts and
 * PostgreSQL: it makes the database unreachable on command, and it reads
 * what the database says on the way back.
 *
 * - cut() closes the port (new connections are refused) and drops every open
 *   connection; restore() listens again on the same port, so no process's
 *   configuration changes across the outage.
 * - Every ErrorResponse the server sends is parsed out of the wire protocol
 *   (message type 'E', field 'C' = SQLSTATE) and counted by code. So
 *   deadlocks (40P01) and serialization failures (40001) are counted as the
 *   database reported them to any process, including those a worker retried
 *   without logging: PostgreSQL's statistics count deadlocks per database
 *   (pg_stat_database.deadlocks) but have no counter for serialization
 *   failures. The proxy assumes no TLS, which is what the loopback URLs it
 *   hands out ask for.
 */
import net from "node:net";

/** Reads server-to-client protocol messages and reports the SQLSTATE of each ErrorResponse. */
export class ErrorResponseReader {
  private header = Buffer.alloc(5);
  private headerFilled = 0;
  private remaining = 0;
  private inBody = false;
  private error: Buffer[] | null = null;

  constructor(private readonly onError: (sqlState: string) => void) {}

  feed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (!this.inBody) {
        const take = Math.min(5 - this.headerFilled, chunk.length - at);
        chunk.copy(this.header, this.headerFilled, at, at + take);
        this.headerFilled += take;
        at += take;
        if (this.headerFilled < 5) return;
        this.headerFilled = 0;
        this.inBody = true;
        this.remaining = this.header.readInt32BE(1) - 4;
        this.error = this.header[0] === 0x45 /* 'E' */ ? [] : null;
        if (this.remaining <= 0) this.finish();
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - at);
      this.error?.push(chunk.subarray(at, at + take));
      this.remaining -= take;
      at += take;
      if (this.remaining === 0) this.finish();
    }
  }

  private finish(): void {
    this.inBody = false;
    if (!this.error) return;
    const body = Buffer.concat(this.error);
    this.error = null;
    // Fields: a code byte, then a NUL-terminated string; a lone NUL ends them.
    for (let at = 0; at < body.length && body[at] !== 0;) {
      const code = body[at] as number;
      const end = body.indexOf(0, at + 1);
      if (end === -1) return;
      if (code === 0x43 /* 'C' */) this.onError(body.toString("utf8", at + 1, end));
      at = end + 1;
    }
  }
}

export interface DatabaseProxy {
  readonly port: number;
  /** ErrorResponses seen, by SQLSTATE. */
  readonly errors: ReadonlyMap<string, number>;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startDatabaseProxy(target: { host: string; port: number }, port: number): Promise<DatabaseProxy> {
  const errors = new Map<string, number>();
  const count = (sqlState: string) => errors.set(sqlState, (errors.get(sqlState) ?? 0) + 1);
  const open = new Set<net.Socket>();
  let forwarding = true;
  const track = (socket: net.Socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    // Dropped peers are what this proxy is for.
    socket.on("error", () => socket.destroy());
  };

  const server = net.createServer((client) => {
    track(client);
    if (!forwarding) return void client.destroy();
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    const reader = new ErrorResponseReader(count);
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => {
      reader.feed(chunk);
      if (!client.write(chunk)) {
        upstream.pause();
        client.once("drain", () => upstream.resume());
      }
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const socket of open) socket.destroy();
    });

  await listen();
  return {
    port,
    errors,
    async cut() {
      forwarding = false;
      await stop();
    },
    async restore() {
      forwarding = true;
      if (!server.listening) await listen();
    },
    async close() {
      forwarding = false;
      await stop();
    },
  };
}
