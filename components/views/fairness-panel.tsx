"use client";
/**
 * Fairness at a glance: each visible tenant's share of the events processed
 * in the last hour, beside its share of the weights. While several tenants
 * are backlogged the two should match; a tenant with less to do takes less
 * than its weight, and the others share the rest.
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { formatCount } from "../format.ts";
import { useMinute } from "../hooks/use-minute.ts";
import { useTRPC } from "../trpc.ts";
import { ErrorState, Skeleton } from "../ui/states.tsx";

const HOUR_MS = 3_600_000;
const REFRESH_MS = 30_000;

const percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });

export function FairnessPanel() {
  const trpc = useTRPC();
  // The range moves by whole minutes, so the query key changes once a minute, not on every render.
  const to = useMinute();
  const fairness = useQuery({
    ...trpc.stats.fairness.queryOptions({ from: new Date(to - HOUR_MS), to: new Date(to) }),
    refetchInterval: REFRESH_MS,
    placeholderData: keepPreviousData,
  });

  return (
    <section className="panel" aria-labelledby="fairness-heading" style={{ marginTop: 16 }}>
      <h2 id="fairness-heading">Fairness, last hour</h2>
      <p className="muted small">Share of processed events beside share of the weights. They match while tenants are backlogged.</p>
      {fairness.isPending ? (
        <Skeleton height={80} label="Loading fairness" />
      ) : fairness.isError && !fairness.data ? (
        <ErrorState error={fairness.error} onRetry={() => void fairness.refetch()} />
      ) : (
        <div className="table-scroll" tabIndex={0}>
          <table className="data">
            <caption className="visually-hidden">Each tenant&apos;s share of processed events and of the weights, last hour</caption>
            <thead>
              <tr>
                <th scope="col">Tenant</th>
                <th scope="col" className="num">
                  Weight
                </th>
                <th scope="col" className="num">
                  Weight share
                </th>
                <th scope="col" className="num">
                  Processed
                </th>
                <th scope="col" className="num">
                  Processed share
                </th>
                <th scope="col">Share vs weight</th>
              </tr>
            </thead>
            <tbody>
              {fairness.data.map((row) => (
                <tr key={row.slug}>
                  <th scope="row" className="mono">
                    {row.slug}
                  </th>
                  <td className="num">{formatCount(row.weight)}</td>
                  <td className="num">{percent.format(row.weightShare)}</td>
                  <td className="num">{formatCount(row.processed)}</td>
                  <td className="num">{percent.format(row.share)}</td>
                  <td aria-hidden="true" style={{ minWidth: 140 }}>
                    <div style={{ position: "relative", height: 12, background: "var(--border)", borderRadius: 3 }}>
                      <div style={{ width: `${row.share * 100}%`, height: "100%", background: "var(--accent)", borderRadius: 3 }} />
                      <div
                        style={{
                          position: "absolute",
                          top: -2,
                          bottom: -2,
                          left: `calc(${row.weightShare * 100}% - 1px)`,
                          width: 2,
                          background: "var(--text)",
                        }}
                      />
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
