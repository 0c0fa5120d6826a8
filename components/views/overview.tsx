"use client";
/**
 * The overview: the tenants the user may see, a page at a time and most
 * urgent first (tenant-pager.tsx; searchable by slug or name), each with its
 * last hour of throughput, backlog, p95 latency and health (and its source's
 * state, for tenants that pull), refreshed every 10 s (paused
 * while the tab is hidden; the previous figures stay on screen meanwhile).
 */
import Link from "next/link";
import { Sparkline } from "../charts/sparkline.tsx";
import { formatAge, formatCount, formatMs, formatTimeOfDay } from "../format.ts";
import { HealthPill, SourceBadge } from "../ui/badges.tsx";
import { EmptyState, ErrorState, Skeleton } from "../ui/states.tsx";
import { FairnessPanel } from "./fairness-panel.tsx";
import { AlertBanner } from "../alerts/alert-banner.tsx";
import { TenantPager, TenantSearch, useTenantPage } from "./tenant-pager.tsx";

const REFRESH_MS = 10_000;

export function OverviewView({ isAdmin }: { isAdmin: boolean }) {
  const paging = useTenantPage({ refetchInterval: REFRESH_MS });
  const tenants = paging.query;
  const searching = paging.search.value !== "";

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Overview</h1>
          <p className="muted small" aria-live="off">
            {tenants.data
              ? `${formatCount(tenants.data.total)} tenant${tenants.data.total === 1 ? "" : "s"}${searching ? " found" : ""}, most urgent first · refreshes every 10 s · updated ${formatTimeOfDay(tenants.dataUpdatedAt, true)}`
              : "Refreshes every 10 s"}
          </p>
        </div>
        {isAdmin ? (
          <Link className="button" href="/admin/tenants">
            Manage tenants
          </Link>
        ) : null}
      </div>
      <AlertBanner />

      {tenants.data?.total !== 0 || searching ? <TenantSearch state={paging} /> : null}

      {tenants.isPending ? (
        <ul className="tenant-grid" aria-busy="true" aria-label="Loading tenants">
          {[0, 1, 2].map((key) => (
            <li key={key} className="panel tenant-card">
              <Skeleton height={22} width="60%" />
              <Skeleton height={40} />
              <Skeleton height={52} />
            </li>
          ))}
        </ul>
      ) : tenants.isError && !tenants.data ? (
        <ErrorState error={tenants.error} onRetry={() => void tenants.refetch()} />
      ) : tenants.data.total === 0 && searching ? (
        <EmptyState title={`No tenants match “${paging.search.value}”`}>
          <p className="muted">The search matches any part of a tenant&apos;s slug or name, in any case.</p>
        </EmptyState>
      ) : tenants.data.total === 0 ? (
        <EmptyState title="No tenants yet">
          {isAdmin ? (
            <p>
              <Link href="/admin/tenants">Create the first tenant</Link> to get a webhook URL and secret.
            </p>
          ) : (
            <p className="muted">You are not a member of any tenant yet. Ask an admin to add you.</p>
          )}
        </EmptyState>
      ) : (
        <>
          {tenants.isError ? (
            <p className="notice warn small" role="status">
              Refresh failed; showing figures from {formatTimeOfDay(tenants.dataUpdatedAt, true)}.
            </p>
          ) : null}
          <TenantPager state={paging} />
          <ul className="tenant-grid" aria-label="Tenants" style={tenants.isPlaceholderData ? { opacity: 0.6 } : undefined}>
            {tenants.data.tenants.map((tenant) => {
              const o = tenant.overview;
              const processed = o ? o.throughput.reduce((sum, n) => sum + n, 0) : 0;
              const peak = o ? Math.max(0, ...o.throughput) : 0;
              return (
                <li key={tenant.id} className="panel tenant-card" aria-labelledby={`tenant-${tenant.id}`}>
                  <div className="tenant-card-head">
                    <div>
                      <h2 id={`tenant-${tenant.id}`}>
                        <Link href={`/tenants/${tenant.slug}`}>{tenant.name}</Link>
                      </h2>
                      <span className="slug muted mono">{tenant.slug}</span>
                    </div>
                    <span className="row" style={{ gap: 4, flexWrap: "wrap", justifyContent: "flex-end" }}>
                      {o ? <HealthPill health={o.health} reason={o.healthReason} /> : null}
                      {tenant.source ? <SourceBadge summary={tenant.source} /> : null}
                    </span>
                  </div>
                  {o ? (
                    <>
                      <div className="spark">
                        <Sparkline values={o.throughput} />
                        <p className="small" style={{ margin: 0 }}>
                          <strong>{formatCount(processed)}</strong> processed in the last hour
                          <br />
                          <span className="muted">peak {formatCount(peak)}/min</span>
                        </p>
                      </div>
                      <dl className="metrics">
                        <div>
                          <dt>Backlog</dt>
                          <dd>
                            {formatCount(o.pending)} <span className="sub muted">pending</span>
                            {o.dead > 0 ? (
                              <>
                                <br />
                                <span className="sub dead-count">{formatCount(o.dead)} dead</span>
                              </>
                            ) : null}
                          </dd>
                        </div>
                        <div>
                          <dt>p95, 15 min</dt>
                          <dd>{formatMs(o.p95Ms)}</dd>
                        </div>
                        <div>
                          <dt>Oldest pending</dt>
                          <dd>{o.oldestPendingAgeMs === null ? <span className="muted">none</span> : formatAge(o.oldestPendingAgeMs)}</dd>
                        </div>
                      </dl>
                      <p className="muted small" style={{ margin: 0 }}>
                        {o.healthReason}
                        {o.rateLimitedLastHour > 0 && !o.healthReason.includes("rate-limited")
                          ? ` · ${formatCount(o.rateLimitedLastHour)} rate-limited in the last hour`
                          : ""}
                      </p>
                    </>
                  ) : (
                    <p className="muted">No figures yet.</p>
                  )}
                </li>
              );
            })}
          </ul>
          {tenants.data.total > 1 && !searching ? <FairnessPanel /> : null}
        </>
      )}
    </>
  );
}
