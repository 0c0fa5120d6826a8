/**
 * A tenant's item API for thin-event tests, outside Tidemark as a tenant's
 * system is: `GET /items/{urlencoded id}` answers the state the test set for
 * that id (404 when none, or after `remove`), and `GET /events` one page of
 * the envelopes the test set (the pull contract, for the collector). It can
 * require a bearer token, be taken down (503) and add latency, and it logs
 * every item request with the version it served, so a test can count
 * fetches per item per version.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ItemApiState {
  id: string;
  version: number;
  name?: string | null;
  category?: string | null;
  value?: number | null;
  refs?: string[];
}

export interface ItemFetch {
  itemId: string;
  /** The version served; null for any answer other than a state (404, 503, 401). */
  version: number | null;
  status: number;
  authorized: boolean;
  at: number;
}

export interface TestItemApi {
  /** The item URL to give Tidemark: `{base}/items`. */
  itemUrl: string;
  /** The source URL: `{base}/events`. */
  feedUrl: string;
  set(state: ItemApiState): void;
  remove(itemId: string): void;
  /** The page `/events` serves. */
  setEvents(events: unknown[]): void;
  /** While down, every request is answered 503. */
  down: boolean;
  readonly fetches: ItemFetch[];
  /** Fetches that served a state, by `${itemId}@${version}`. */
  fetchesPerVersion(): Map<string, number>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startItemApi(options: { token?: string; latencyMs?: number } = {}): Promise<TestItemApi> {
  const items = new Map<string, ItemApiState>();
  const fetches: ItemFetch[] = [];
  let events: unknown[] = [];
  const api = { down: false };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://item-api.local");
    const authorized = options.token === undefined || req.headers.authorization === `Bearer ${options.token}`;
    const answer = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    const item = /^\/items\/([^/]+)$/.exec(url.pathname);
    const respond = () => {
      if (api.down) return { status: 503, body: { error: "down" }, version: null };
      if (!authorized) return { status: 401, body: { error: "unauthorized" }, version: null };
      if (url.pathname === "/events") return { status: 200, body: { events, next_cursor: "end", has_more: false }, version: null };
      if (!item) return { status: 404, body: { error: "no such path" }, version: null };
      const state = items.get(decodeURIComponent(item[1] as string));
      return state ? { status: 200, body: state, version: state.version } : { status: 404, body: { error: "no such item" }, version: null };
    };
    // The state is read when the request arrives, as a real API would read its row; latency comes after.
    const { status, body, version } = respond();
    if (item) fetches.push({ itemId: decodeURIComponent(item[1] as string), version, status, authorized, at: Date.now() });
    void sleep(options.latencyMs ?? 0).then(() => answer(status, body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;

  return {
    itemUrl: `${base}/items`,
    feedUrl: `${base}/events`,
    set: (state) => items.set(state.id, { ...state }),
    remove: (itemId) => items.delete(itemId),
    setEvents: (next) => {
      events = next;
    },
    get down() {
      return api.down;
    },
    set down(value: boolean) {
      api.down = value;
    },
    fetches,
    fetchesPerVersion() {
      const counts = new Map<string, number>();
      for (const fetch of fetches) {
        if (fetch.version === null) continue;
        const key = `${fetch.itemId}@${fetch.version}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      return counts;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((failure) => (failure ? reject(failure) : resolve()));
      }),
  };
}
