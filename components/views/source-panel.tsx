"use client";
/**
 * A tenant's source (pull mode) on its page: whether it is pulling, paused,
 * failing or waiting (and why, and until when), the committed cursor, the
 * last fetch and success, the last error and the failures in a row, events
 * stored and pages committed, and the lag (how long ago the collector last
 * reached the end of the upstream). Refreshed every 5 s while the tab is
 * visible. Nothing is shown for a tenant without a source, except to
 * admins, who are told where to set one.
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useId } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root.ts";
import { formatAge, formatCount, formatDateTime } from "../format.ts";
import { LIVE_REFRESH_MS } from "../hooks/use-tenant-series.ts";
import { useTRPC } from "../trpc.ts";
import { Badge } from "../ui/badges.tsx";
import { Skeleton, describeError } from "../ui/states.tsx";
import { Time } from "../ui/time.tsx";

export type SourceStatusView = NonNullable<inferRouterOutputs<AppRouter>["sources"]["status"]>;

const WAITING_TEXT = {
  backoff: "Backing off after a failure; the next try is at",
  quota: "Over the tenant's daily quota: nothing is pulled until the next UTC day, at",
  rate: "At the tenant's rate limit; the next page is at",
} as const;

export function SourcePanel({ slug, isAdmin }: { slug: string; isAdmin: boolean }) {
  const trpc = useTRPC();
  const source = useQuery({
    ...trpc.sources.status.queryOptions({ tenant: slug }),
    refetchInterval: LIVE_REFRESH_MS,
    refetchIntervalInBackground: false,
    placeholderData: keepPreviousData,
  });

  if (source.isPending) return <Skeleton height={80} />;
  if (source.isError && !source.data) {
    return (
      <section className="panel" aria-labelledby="source-heading">
        <h2 id="source-heading">Source</h2>
        <p className="muted">Not available: {describeError(source.error).detail}</p>
      </section>
    );
  }
  const status = source.data;
  if (!status) {
    return isAdmin ? (
      <p className="muted small" style={{ margin: 0 }}>
        No source: this tenant only receives webhooks. <Link href="/admin/tenants">Set a source</Link> to pull from its API instead.
      </p>
    ) : null;
  }
  return <SourceDetails status={status} stale={source.isError} />;
}

export function SourceDetails({ status, stale }: { status: SourceStatusView; stale?: boolean }) {
  const { summary } = status;
  const heading = useId();
  return (
    <section className="panel" aria-labelledby={heading} data-source-state={summary.label}>
      <div className="chart-head" style={{ marginBottom: 8 }}>
        <h2 id={heading}>
          Source <Badge tone={summary.tone}>{summary.label}</Badge>
        </h2>
        <span className="muted small">{stale ? "Refresh failed; showing earlier figures" : "pull mode, every 5 s"}</span>
      </div>
      <p className="small" style={{ marginTop: 0, wordBreak: "break-all" }}>
        <span className="mono">{status.url}</span> · every {formatAge(status.intervalMs)}, {formatCount(status.pageSize)} per page
        {status.hasToken ? " · bearer token set" : ""}
      </p>
      {status.waitingFor && !status.paused ? (
        <p className={`notice ${status.waitingFor === "backoff" ? "bad" : "warn"} small`} role="status">
          {WAITING_TEXT[status.waitingFor]} <Time value={new Date(status.nextFetchAt)} />.
        </p>
      ) : null}
      {status.lastError ? (
        <p className="notice bad small" role="status">
          Last error ({formatCount(status.consecutiveFailures)} in a row): {status.lastError}
        </p>
      ) : null}
      <dl className="metrics">
        <div>
          <dt>Events stored</dt>
          <dd>{formatCount(status.eventsStored)}</dd>
        </div>
        <div>
          <dt>Pages committed</dt>
          <dd>{formatCount(status.pagesCommitted)}</dd>
        </div>
        <div>
          <dt>Failures in a row</dt>
          <dd className={status.consecutiveFailures > 0 ? "dead-count" : undefined}>{formatCount(status.consecutiveFailures)}</dd>
        </div>
        <div>
          <dt>Lag</dt>
          <dd title="How long ago the collector last reached the end of the source">
            {status.lagMs === null ? <span className="muted">—</span> : formatAge(status.lagMs)}
            {status.hasMore ? <span className="sub muted"> catching up</span> : null}
          </dd>
        </div>
        <div>
          <dt>Invalid events</dt>
          <dd title={status.lastInvalid ?? undefined}>{formatCount(status.eventsInvalid)}</dd>
        </div>
      </dl>
      <dl className="kv small">
        <dt>Last success</dt>
        <dd>
          <Time value={status.lastSuccessAt ? new Date(status.lastSuccessAt) : null} />
        </dd>
        <dt>Last fetch</dt>
        <dd>
          <Time value={status.lastFetchAt ? new Date(status.lastFetchAt) : null} />
        </dd>
        <dt>Cursor</dt>
        <dd className="mono" style={{ wordBreak: "break-all" }}>
          {status.cursor ?? <span className="muted">none yet (the first page comes next)</span>}
        </dd>
        {status.lastInvalid ? (
          <>
            <dt>Last invalid event</dt>
            <dd>{status.lastInvalid}</dd>
          </>
        ) : null}
        <dt>Reason</dt>
        <dd>{summary.reason.replace(status.nextFetchAt, formatDateTime(new Date(status.nextFetchAt)))}</dd>
      </dl>
    </section>
  );
}
