/**
 * An HTTP client with a bounded pool of keep-alive connections (node:http
 * Agent), for tests that need real concurrency over a known number of
 * connections. The global fetch cannot be given a pool size here: undici is
 * not importable as a package on this machine.
 */
import http from "node:http";

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The client-side port of the connection that carried the request: tells connections apart. */
  localPort: number;
  /** Time from sending the request to the end of the answer. */
  ms: number;
}

export interface KeepAliveClient {
  post(url: string, headers: Record<string, string>, body: string): Promise<Reply>;
  close(): void;
}

export function keepAliveClient(connections: number): KeepAliveClient {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  return {
    post(url, headers, body) {
      const started = performance.now();
      return new Promise<Reply>((resolve, reject) => {
        const request = http.request(url, { method: "POST", agent, headers: { ...headers, "content-length": String(Buffer.byteLength(body)) } }, (response) => {
          const localPort = response.socket?.localPort ?? 0;
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () =>
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              body: Buffer.concat(chunks).toString("utf8"),
              localPort,
              ms: performance.now() - started,
            }),
          );
        });
        request.on("error", reject);
        request.end(body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

/** Runs `task` over `items` with at most `concurrency` in flight; results keep the items' order. */
export async function mapConcurrent<T, R>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T, index);
    }
  });
  await Promise.all(lanes);
  return results;
}
