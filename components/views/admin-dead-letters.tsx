"use client";
/**
 * Dead letters: events that failed their last attempt, per tenant (?tenant=
 * in the URL), with "Replay all" and a per-event "Replay". Replaying puts
 * events back to pending with fresh attempts; both ask before doing it and
 * say what happened.
 */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useId, useState } from "react";
import { errorMessage } from "../errors.ts";
import { formatCount, formatDateTime } from "../format.ts";
import { useUrlState } from "../hooks/use-url-state.ts";
import { useTRPC, useTRPCClient } from "../trpc.ts";
import { ConfirmButton } from "../ui/confirm-button.tsx";
import { ErrorState, LiveMessage, Skeleton } from "../ui/states.tsx";
import { Time } from "../ui/time.tsx";
import { itemHref } from "./items.tsx";

const PAGE_SIZE = 100;

export function AdminDeadLettersView() {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const selectId = useId();
  const { params, set } = useUrlState();
  const tenants = useQuery(trpc.tenants.list.queryOptions());
  const [message, setMessage] = useState<{ text: string; tone: "ok" | "bad" } | null>(null);

  const requested = params.get("tenant");
  const slugs = tenants.data?.map((tenant) => tenant.slug) ?? [];
  // Default to the first tenant with dead events, else the first tenant.
  const tenant = requested && slugs.includes(requested) ? requested : (tenants.data?.find((t) => (t.overview?.dead ?? 0) > 0)?.slug ?? slugs[0] ?? null);

  const dead = useInfiniteQuery({
    // Shaped like tRPC's keys, so trpc.admin.deadLetters.pathFilter() reaches it.
    queryKey: [...trpc.admin.deadLetters.pathKey(), { input: { tenant }, type: "infinite" }] as const,
    queryFn: ({ pageParam, signal }) => client.admin.deadLetters.query({ tenant: tenant as string, afterId: pageParam, limit: PAGE_SIZE }, { signal }),
    initialPageParam: 0,
    getNextPageParam: (last) => (last.length === PAGE_SIZE ? last[last.length - 1]?.id : undefined),
    enabled: tenant !== null,
  });
  const rows = dead.data?.pages.flat() ?? [];

  const replay = useMutation(
    trpc.admin.replayDead.mutationOptions({
      onSuccess: async ({ replayed }, input) => {
        const what = input.eventIds ? `event ${input.eventIds.join(", ")}` : `all dead events of ${input.tenant}`;
        setMessage({
          text:
            replayed === 0
              ? `Nothing replayed: ${what} ${input.eventIds ? "is" : "are"} no longer dead.`
              : `Replayed ${formatCount(replayed)} event${replayed === 1 ? "" : "s"} (${what}); they are pending again and will be processed shortly.`,
          tone: "ok",
        });
        await Promise.all([
          queryClient.invalidateQueries(trpc.admin.deadLetters.pathFilter()),
          queryClient.invalidateQueries({ queryKey: trpc.tenants.list.queryKey() }),
          queryClient.invalidateQueries(trpc.stats.backlog.pathFilter()),
        ]);
      },
      onError: (error) => setMessage({ text: `Replay failed: ${errorMessage(error)}`, tone: "bad" }),
    }),
  );

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Dead letters</h1>
          <p className="muted small">Events that failed their last attempt. Replaying sends them back to the queue with fresh attempts.</p>
        </div>
      </div>

      <div className="stack">
        {tenants.isPending ? (
          <Skeleton height={60} />
        ) : tenants.isError ? (
          <ErrorState error={tenants.error} onRetry={() => void tenants.refetch()} />
        ) : slugs.length === 0 ? (
          <p className="panel muted">
            No tenants yet. <Link href="/admin/tenants">Create one</Link>.
          </p>
        ) : (
          <div className="toolbar" style={{ marginBottom: 0 }}>
            <div className="field">
              <label htmlFor={selectId}>Tenant</label>
              <select
                id={selectId}
                value={tenant ?? ""}
                onChange={(event) => {
                  setMessage(null);
                  set({ tenant: event.target.value });
                }}
              >
                {tenants.data.map((t) => (
                  <option key={t.slug} value={t.slug}>
                    {t.slug}
                    {t.overview && t.overview.dead > 0 ? ` (${formatCount(t.overview.dead)} dead)` : ""}
                  </option>
                ))}
              </select>
            </div>
            <div className="spacer" />
            {tenant && rows.length > 0 ? (
              <ConfirmButton
                label="Replay all"
                question={`Replay all ${dead.hasNextPage ? "" : `${formatCount(rows.length)} `}dead events of ${tenant}?`}
                confirmLabel="Replay all"
                onConfirm={() => replay.mutate({ tenant })}
                pending={replay.isPending && replay.variables?.eventIds === undefined}
                disabled={replay.isPending}
              />
            ) : null}
          </div>
        )}

        <LiveMessage message={message?.text ?? null} tone={message?.tone} />

        {tenant === null ? null : dead.isPending ? (
          <Skeleton height={200} />
        ) : dead.isError && !dead.data ? (
          <ErrorState error={dead.error} onRetry={() => void dead.refetch()} />
        ) : rows.length === 0 ? (
          <div className="panel state">
            <h2>No dead events</h2>
            <p className="muted">
              Every event of <span className="mono">{tenant}</span> was processed or is still being retried.
            </p>
          </div>
        ) : (
          <>
            <div className="table-scroll tall">
              <table className="data">
                <caption className="visually-hidden">Dead events of {tenant}</caption>
                <thead>
                  <tr>
                    <th scope="col">Event id</th>
                    <th scope="col">Type</th>
                    <th scope="col">Item</th>
                    <th scope="col" className="num">
                      Attempts
                    </th>
                    <th scope="col">Last error</th>
                    <th scope="col">Received</th>
                    <th scope="col">Processed</th>
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((event) => (
                    <tr key={event.id}>
                      <th scope="row" className="mono wrap">
                        {event.eventId}
                      </th>
                      <td className="nowrap">{event.type.replace(/^item\./, "")}</td>
                      <td className="wrap">
                        <Link className="mono" href={itemHref(tenant, event.itemId)}>
                          {event.itemId}
                        </Link>
                      </td>
                      <td className="num">{formatCount(event.attempts)}</td>
                      <td className="wrap small">{event.lastError ?? <span className="muted">—</span>}</td>
                      <td>
                        <Time value={event.receivedAt} format={formatDateTime} />
                      </td>
                      <td>
                        <Time value={event.processedAt} format={formatDateTime} />
                      </td>
                      <td className="actions">
                        <ConfirmButton
                          small
                          label="Replay"
                          accessibleLabel={`Replay ${event.eventId}`}
                          question={`Replay ${event.eventId}?`}
                          confirmLabel="Replay"
                          onConfirm={() => replay.mutate({ tenant, eventIds: [event.eventId] })}
                          pending={replay.isPending && replay.variables?.eventIds?.[0] === event.eventId}
                          disabled={replay.isPending}
                        />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div className="row">
              <span className="muted small">
                {formatCount(rows.length)} dead event{rows.length === 1 ? "" : "s"} shown
              </span>
              {dead.hasNextPage ? (
                <button type="button" onClick={() => void dead.fetchNextPage()} disabled={dead.isFetchingNextPage}>
                  {dead.isFetchingNextPage ? "Loading…" : "Load more"}
                </button>
              ) : null}
            </div>
          </>
        )}
      </div>
    </>
  );
}
