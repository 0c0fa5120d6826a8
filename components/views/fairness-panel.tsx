"use client";
/**
 * Fairness at a glance: the busiest visible tenants' shares of the events
 * processed in the last hour, beside their shares of the weights, and every
 * other tenant summed in one "others" row (so 10,000 tenants are 11 rows).
 * While several tenants are backlogged the two should match; a tenant with
 * less to do takes less than its weight, and the others share the rest.
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { formatCount } from "../format.ts";
import { useMinute } from "../hooks/use-minute.ts";
import { useTRPC } from "../trpc.ts";
import { ErrorState, Skeleton } from "../ui/states.tsx";
import type { FairnessShare } from "@/server/stats/fairness.ts";

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
      <p className="muted small">
        Share of processed events beside share of the weights, for the busiest tenants and the others together. They match while tenants are backlogged.
      </p>
      {fairness.isPending ? (
        <Skeleton height={80} label="Loading fairness" />
      ) : fairness.isError && !fairness.data ? (
        <ErrorState error={fairness.error} onRetry={() => void fairness.refetch()} />
      ) : (
        <div className="table-scroll" tabIndex={0}>
          <table className="data">
            <caption className="visually-hidden">
              The busiest tenants&apos; shares of processed events and of the weights, and the others summed, last hour
            </caption>
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
              {fairness.data.busiest.map((row) => (
                <ShareRow key={row.slug} label={<span className="mono">{row.slug}</span>} row={row} />
              ))}
              {fairness.data.others ? (
                <ShareRow
                  label={
                    <span className="muted">{`${formatCount(fairness.data.others.tenants)} other tenant${fairness.data.others.tenants === 1 ? "" : "s"}`}</span>
                  }
                  row={fairness.data.others}
                />
              ) : null}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function ShareRow({ label, row }: { label: ReactNode; row: Omit<FairnessShare, "slug"> }) {
  return (
    <tr>
      <th scope="row">{label}</th>
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
  );
}
