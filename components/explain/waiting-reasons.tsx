"use client";
/**
 * On the item page: why each of the item's pending or in-flight events is
 * still waiting, in the scheduler's words (explain.item, server/explain).
 * The first reason is what holds the event back; the others are what else
 * is true of it or its tenant. Follows the events every 3 s while any waits;
 * shows nothing when none does (the item's own sentence says so already).
 */
import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "../trpc.ts";
import { Badge } from "../ui/badges.tsx";
import { Skeleton, describeError } from "../ui/states.tsx";

const REFRESH_MS = 3_000;

export function WaitingReasons({ slug, itemId }: { slug: string; itemId: string }) {
  const trpc = useTRPC();
  const explained = useQuery({
    ...trpc.explain.item.queryOptions({ tenant: slug, itemId }),
    refetchInterval: (query) => ((query.state.data?.length ?? 0) > 0 ? REFRESH_MS : false),
    refetchIntervalInBackground: false,
  });

  if (explained.isPending) return <Skeleton height={48} label="Loading why events wait" />;
  if (explained.isError && !explained.data) {
    return (
      <p className="notice warn small" role="status">
        Could not say why events wait: {describeError(explained.error).detail}{" "}
        <button type="button" onClick={() => void explained.refetch()}>
          Try again
        </button>
      </p>
    );
  }
  const events = explained.data;
  if (events.length === 0) return null;

  return (
    <section className="panel" aria-labelledby="waiting-heading" data-testid="waiting-reasons">
      <h2 id="waiting-heading" style={{ marginBottom: 8 }}>
        Why {events.length === 1 ? "its event is" : `its ${events.length} events are`} waiting
      </h2>
      {explained.isError ? <p className="muted small">Refresh failed ({describeError(explained.error).detail}); showing the last answer.</p> : null}
      <ul className="stack" style={{ listStyle: "none", margin: 0, padding: 0, gap: 8 }}>
        {events.map((event) => {
          const [main, ...notes] = event.reasons;
          return (
            <li key={event.eventId} data-testid="waiting-reason" data-reason={main?.code}>
              <span className="mono">{event.eventId}</span>{" "}
              <Badge tone={event.status === "processing" ? "info" : "neutral"}>{event.status === "processing" ? "in flight" : "pending"}</Badge>
              <div>{main?.text}</div>
              {notes.map((note) => (
                <div key={note.code} className="muted small" data-reason={note.code}>
                  {note.text}
                </div>
              ))}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
