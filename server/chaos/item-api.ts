/**
 * The chaos run's item API, for its thin events: `GET
 * {url}/items/{tenant index}/{urlencoded item id}` answers the item's final
 * state over the tenant's whole planned history (the model over the full
 * events), or 404 when that state is a tombstone or the item is unknown. It
 * stands for the tenant's own system, which knows every item's latest state
 * whatever Tidemark has received so far, and it runs in the chaos process,
 * outside the faults.
 *
 * Because the answers are fixed by the plan, what each thin event resolves
 * to is too (server/thin/resolved-body.ts, the workers' rule), so the checks can
 * compute the expected state exactly: resolvedEvents gives the events as
 * the workers apply them.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { isThin, ZEventBody, type TEventBody } from "../core/event.ts";
import { modelState, type ItemState } from "../core/model.ts";
import { resolvedBody, type CachedItem } from "../thin/resolved-body.ts";
import { wireBody, type PlannedEvent } from "./plan.ts";

export interface ChaosItemApi {
  /** The item URL of webhook tenant `index` (what its source's item_url is set to). */
  itemUrl(index: number): string;
  /** Item fetches answered so far. */
  readonly fetches: number;
  close(): Promise<void>;
}

/** What the item API answers for an item whose final state is `final`, to a thin event of `version`. */
function answerFor(final: ItemState | undefined, version: number): CachedItem {
  if (!final || final.deleted) return { version, state: null };
  return {
    version: final.version,
    state: { id: final.itemId, version: final.version, name: final.name, category: final.category, value: final.value, refs: final.refs },
  };
}

/** The events as the workers apply them: a thin one as its item's answer resolves it, the others as they are. */
export function resolvedEvents(events: readonly PlannedEvent[]): { eventId: string; body: TEventBody }[] {
  const finals = modelState(events.map((event) => ({ eventId: event.id, body: event.body })));
  return events.map((event) => {
    // As the worker reads it: the stored payload, through the event schema.
    const sent = ZEventBody.parse(wireBody(event));
    if (!isThin(sent) || sent.type === "item.deleted") return { eventId: event.id, body: sent };
    const version = sent.data.version;
    const body = resolvedBody({ version, body: sent }, answerFor(finals.get(sent.data.id), version));
    if (!body) throw new Error(`the item API's answer for ${sent.data.id} is older than thin event ${event.id}`);
    return { eventId: event.id, body };
  });
}

export async function startItemApi(events: readonly PlannedEvent[][], port: number): Promise<ChaosItemApi> {
  const finals = events.map((tenantEvents) => modelState(tenantEvents.map((event) => ({ eventId: event.id, body: event.body }))));
  let fetches = 0;
  const server = http.createServer((request, response) => {
    const match = /^\/items\/(\d+)\/([^/?]+)$/.exec(request.url ?? "");
    if (request.method !== "GET" || !match) return void response.writeHead(404).end();
    fetches++;
    const answer = answerFor(finals[Number(match[1])]?.get(decodeURIComponent(match[2] as string)), 0);
    if (answer.state === null) return void response.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer.state));
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    itemUrl: (index) => `${url}/items/${index}`,
    get fetches() {
      return fetches;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
