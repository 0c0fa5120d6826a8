"use client";
/**
 * One item: its current state (live, tombstone, or never seen), its refs,
 * and every event received for it, with a sentence on top saying why the
 * item is in this state. The rule (docs/design.md, "Event semantics"): the
 * highest version wins; at equal versions deleted > updated > created, then
 * the larger event id.
 */
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { formatCount, formatDateTime, formatPrecise } from "../format.ts";
import { useTRPC } from "../trpc.ts";
import { Badge, OutcomeBadge } from "../ui/badges.tsx";
import { ErrorState, Skeleton, describeError } from "../ui/states.tsx";
import { Time } from "../ui/time.tsx";
import { ZTenantSlug } from "@/server/schemas/tenant.ts";
import { itemHref } from "./items.tsx";
import { WaitingReasons } from "../explain/waiting-reasons.tsx";
import type { ItemHistory } from "@/server/items/browse.ts";

type HistoryEvent = ItemHistory["events"][number];
type HistoryItem = Pick<NonNullable<ItemHistory["item"]>, "id" | "version" | "deleted" | "winningEventId">;

function plural(n: number, word: string): string {
  return `${formatCount(n)} ${word}${n === 1 ? "" : "s"}`;
}

/** One or two sentences: why the item is in its state. */
export function explainState(item: HistoryItem | null, events: readonly HistoryEvent[]): string {
  const waiting = events.filter((e) => e.status === "pending" || e.status === "processing").length;
  const waitingNote = waiting > 0 ? ` ${plural(waiting, "event")} still waiting to be processed; the state may change.` : "";
  if (!item) {
    if (events.length === 0) return "Never seen: no event for this item has been received.";
    const rejected = events.filter((e) => e.outcome === "rejected").length;
    const dead = events.filter((e) => e.outcome === "dead" || e.status === "dead").length;
    const parts = [rejected > 0 ? `${formatCount(rejected)} rejected` : null, dead > 0 ? `${formatCount(dead)} dead` : null].filter(Boolean);
    return `No state yet: ${plural(events.length, "event")} received, none applied${parts.length ? ` (${parts.join(", ")})` : ""}.${waitingNote}`;
  }

  const winner = events.find((e) => e.eventId === item.winningEventId);
  const by = winner ? `event ${item.winningEventId} (${winner.type})` : `event ${item.winningEventId}`;
  const head = item.deleted
    ? `Tombstone: deleted at version ${formatCount(item.version)} by ${by}, the highest version received.`
    : `Version ${formatCount(item.version)} from ${by}: the highest version received wins.`;

  let tie = "";
  const rivals = events.filter((e) => e.version === item.version && e.eventId !== item.winningEventId);
  if (winner && rivals.length > 0) {
    const sameType = rivals.filter((e) => e.type === winner.type).length;
    const why =
      sameType === 0
        ? "on type (deleted > updated > created)"
        : sameType === rivals.length
          ? "on the larger event id"
          : "on type (deleted > updated > created), then on the larger event id";
    tie = ` It ties with ${plural(rivals.length, "other event")} at that version and wins ${why}.`;
  }

  const stale = events.filter((e) => e.outcome === "stale").length;
  const staleNote = stale > 0 ? ` ${plural(stale, "event")} arrived out of order or lost, and changed nothing (stale).` : "";
  const tombstoneNote = item.deleted ? " Older creates or updates arriving later stay stale; only a higher version brings it back." : "";
  return `${head}${tie}${staleNote}${tombstoneNote}${waitingNote}`;
}

export function ItemView({ slug, itemId }: { slug: string; itemId: string }) {
  const trpc = useTRPC();
  const valid = ZTenantSlug.safeParse(slug).success;
  const history = useQuery({
    ...trpc.items.history.queryOptions({ tenant: slug, itemId }),
    enabled: valid,
    // While events wait, follow them until they are processed.
    refetchInterval: (query) => (query.state.data?.events.some((e) => e.status === "pending" || e.status === "processing") ? 3_000 : false),
    refetchIntervalInBackground: false,
  });

  const crumbs = (
    <nav aria-label="Breadcrumb" className="crumbs">
      <Link href="/">Overview</Link> / <Link href={`/tenants/${slug}`}>{slug}</Link> / <Link href={`/tenants/${slug}/items`}>Items</Link> /{" "}
      <span className="mono">{itemId}</span>
    </nav>
  );

  if (!valid) {
    return (
      <>
        {crumbs}
        <div className="notice bad state" role="alert">
          <h1>No such tenant</h1>
        </div>
      </>
    );
  }

  const data = history.data;
  const item = data?.item ?? null;
  const state = !data ? null : item ? (item.deleted ? "tombstone" : "live") : data.events.length === 0 ? "never seen" : "not applied";

  return (
    <>
      {crumbs}
      <div className="page-head">
        <div>
          <h1 className="mono" style={{ overflowWrap: "anywhere" }}>
            {itemId}
          </h1>
          <p className="muted small">Item of {slug}</p>
        </div>
        {state ? <Badge tone={state === "live" ? "ok" : state === "tombstone" ? "bad" : "neutral"}>{state}</Badge> : null}
      </div>

      {history.isPending ? (
        <div className="stack" aria-busy="true">
          <Skeleton height={48} />
          <Skeleton height={160} />
          <Skeleton height={200} />
        </div>
      ) : history.isError && !data ? (
        (() => {
          const described = describeError(history.error, "this tenant");
          return described.retryable ? (
            <ErrorState error={history.error} onRetry={() => void history.refetch()} />
          ) : (
            <div className="notice bad state" role="alert">
              <h2>{described.title}</h2>
              <p>{described.detail}</p>
            </div>
          );
        })()
      ) : data ? (
        <div className="stack">
          <p className={`notice ${item?.deleted ? "warn" : item ? "ok" : "info"} explain`} data-testid="item-explanation">
            {explainState(item, data.events)}
          </p>
          <WaitingReasons slug={slug} itemId={itemId} />

          <section className="panel" aria-labelledby="state-heading">
            <h2 id="state-heading" style={{ marginBottom: 10 }}>
              Current state
            </h2>
            {item ? (
              <dl className="kv">
                <dt>Version</dt>
                <dd>{formatCount(item.version)}</dd>
                <dt>State</dt>
                <dd>{item.deleted ? "Deleted (tombstone)" : "Live"}</dd>
                <dt>Name</dt>
                <dd>{item.name ?? <span className="muted">—</span>}</dd>
                <dt>Category</dt>
                <dd>{item.category ?? <span className="muted">—</span>}</dd>
                <dt>Value</dt>
                <dd>{formatPrecise(item.value)}</dd>
                <dt>Refs</dt>
                <dd>
                  {item.refs.length === 0 ? (
                    <span className="muted">none</span>
                  ) : (
                    <ul className="refs">
                      {item.refs.map((ref) => (
                        <li key={ref}>
                          <Link className="mono" href={itemHref(slug, ref)}>
                            {ref}
                          </Link>
                        </li>
                      ))}
                    </ul>
                  )}
                </dd>
                <dt>Winning event</dt>
                <dd className="mono">{item.winningEventId}</dd>
                <dt>Updated</dt>
                <dd>
                  <Time value={item.updatedAt} />
                </dd>
              </dl>
            ) : (
              <p className="muted">{data.events.length === 0 ? "Never seen: there is no state for this id." : "No event has been applied yet."}</p>
            )}
          </section>

          <section className="stack" aria-labelledby="history-heading" style={{ gap: 8 }}>
            <h2 id="history-heading">History</h2>
            <p className="muted small" style={{ margin: 0 }}>
              Every event received for this item, highest version first{data.events.length >= 500 ? " (the 500 most relevant)" : ""}. The winning event is
              marked.
            </p>
            {data.events.length === 0 ? (
              <p className="panel muted">No events.</p>
            ) : (
              <div className="table-scroll">
                <table className="data">
                  <caption className="visually-hidden">Events of item {itemId}</caption>
                  <thead>
                    <tr>
                      <th scope="col">Event id</th>
                      <th scope="col">Type</th>
                      <th scope="col" className="num">
                        Version
                      </th>
                      <th scope="col">Status</th>
                      <th scope="col">Outcome</th>
                      <th scope="col" className="num">
                        Attempts
                      </th>
                      <th scope="col">Last error</th>
                      <th scope="col">Received</th>
                      <th scope="col">Request id</th>
                      <th scope="col">Processed</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.events.map((event) => {
                      const winner = item?.winningEventId === event.eventId;
                      return (
                        <tr key={event.eventId} className={winner ? "winner" : undefined}>
                          <th scope="row" className="wrap mono">
                            {event.eventId}
                            {winner ? (
                              <>
                                {" "}
                                <Badge tone="ok">winner</Badge>
                              </>
                            ) : null}
                          </th>
                          <td className="nowrap">{event.type.replace(/^item\./, "")}</td>
                          <td className="num">{formatCount(event.version)}</td>
                          <td>{event.status === "processing" ? "in flight" : event.status}</td>
                          <td>
                            <OutcomeBadge outcome={event.outcome} status={event.status} />
                          </td>
                          <td className="num">{formatCount(event.attempts)}</td>
                          <td className="wrap small">{event.lastError ?? <span className="muted">—</span>}</td>
                          <td>
                            <Time value={event.receivedAt} format={formatDateTime} />
                          </td>
                          <td className="wrap small mono">{event.requestId ?? <span className="muted">—</span>}</td>
                          <td>
                            <Time value={event.processedAt} format={formatDateTime} />
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </div>
      ) : null}
    </>
  );
}
