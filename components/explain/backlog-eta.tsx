"use client";
/**
 * Beside the tenant's backlog chart: when the backlog will be gone at the
 * tenant's recent rates (explain.eta, server/explain/eta.ts), with its range,
 * or "never at this rate" when events arrive as fast as they are processed.
 * Refreshed every 15 s; its own loading, empty and error states.
 */
import { useQuery } from "@tanstack/react-query";
import { formatAge, formatCount, formatDecimal, formatTimeOfDay } from "../format.ts";
import { useTRPC } from "../trpc.ts";
import { Skeleton, describeError } from "../ui/states.tsx";

const REFRESH_MS = 15_000;

const rate = (perSecond: number) => `${formatDecimal(perSecond)}/s`;

export function BacklogEta({ slug }: { slug: string }) {
  const trpc = useTRPC();
  const eta = useQuery({ ...trpc.explain.eta.queryOptions({ tenant: slug }), refetchInterval: REFRESH_MS, refetchIntervalInBackground: false });
  const estimate = eta.data;

  let body;
  if (eta.isPending) body = <Skeleton height={72} label="Loading the drain estimate" />;
  else if (eta.isError && !estimate) {
    body = (
      <div className="notice bad small" role="alert">
        <p>Could not estimate: {describeError(eta.error).detail}</p>
        <button type="button" onClick={() => void eta.refetch()}>
          Try again
        </button>
      </div>
    );
  } else if (!estimate) body = null;
  else if (estimate.state === "empty") body = <p data-eta="empty">No backlog: nothing is waiting.</p>;
  else if (estimate.state === "unknown") {
    body = (
      <p data-eta="unknown">
        {formatCount(estimate.backlog)} waiting; no estimate yet: {estimate.why}.
      </p>
    );
  } else if (estimate.state === "never") {
    body = (
      <>
        <p className="eta-figure" data-eta="never">
          <strong>Never at this rate</strong>
        </p>
        <p className="small">
          {formatCount(estimate.backlog)} waiting: {estimate.why} ({rate(estimate.arrivalPerSecond)} arriving, {rate(estimate.servicePerSecond)} processed, over
          the last {formatAge(estimate.measuredMs)}).
        </p>
      </>
    );
  } else {
    body = (
      <>
        <p className="eta-figure" data-eta="draining">
          <strong>about {formatAge(estimate.etaMs)}</strong> <span className="muted small">(by {formatTimeOfDay(eta.dataUpdatedAt + estimate.etaMs)})</span>
        </p>
        <p className="small">
          Between {formatAge(estimate.etaLowMs)} and {estimate.etaHighMs === null ? "never" : formatAge(estimate.etaHighMs)}, for{" "}
          {formatCount(estimate.backlog)} waiting at {rate(estimate.servicePerSecond)} processed and {rate(estimate.arrivalPerSecond)} arriving, measured over{" "}
          {formatAge(estimate.measuredMs)} ({estimate.buckets === 1 ? "1 minute bucket" : `${estimate.buckets} minute buckets`}).
        </p>
      </>
    );
  }

  return (
    <section className="panel chart-panel" aria-labelledby="backlog-eta-heading" data-testid="backlog-eta">
      <div className="chart-head">
        <h2 id="backlog-eta-heading">Backlog drain ETA</h2>
        <span className="muted small">{eta.isError && estimate ? `Refresh failed: ${describeError(eta.error).detail}` : "every 15 s"}</span>
      </div>
      {body}
      <p className="muted small">
        From the last {estimate?.windowMinutes ?? 5} minutes in which this tenant had a backlog: its processing rate is the share it got of the workers then, so
        the estimate assumes that share holds.
      </p>
    </section>
  );
}
