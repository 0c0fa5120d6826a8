"use client";
/**
 * A tenant's page: totals for the chosen range, the live backlog, its source
 * (pull mode) if it has one, and four
 * charts (events received, outcomes, latency, backlog), refreshed every 5 s
 * while the tab is visible. The range lives in the URL (?range=…), so a view
 * can be shared; the totals state the exact, bucket-aligned range the server
 * counted over. "Compare" (?compare=1) adds the previous period to every
 * chart as dashed lines; the events chart carries the tenant's rate limit
 * and daily quota (bands.ts), and the bucket still filling is drawn partial.
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useSyncExternalStore } from "react";
import { limitBands, type TenantLimits } from "../charts/bands.ts";
import { TimeSeriesPanel } from "../charts/time-series-panel.tsx";
import { BACKLOG_SERIES, LATENCY_SERIES, OUTCOME_SERIES, RECEIVED_SERIES, type SeriesPoint } from "../charts/tenant-series.ts";
import { BUCKET_LABEL, formatAge, formatCount, formatDateTime, formatDecimal, formatMs, formatTimeOfDay, timeZoneLabel } from "../format.ts";
import { LIVE_REFRESH_MS, RANGE_KEYS, RANGES, parseRange, useTenantSeries, type RangeKey } from "../hooks/use-tenant-series.ts";
import { useUrlState } from "../hooks/use-url-state.ts";
import { useTRPC } from "../trpc.ts";
import { ErrorState, Skeleton, describeError } from "../ui/states.tsx";
import { SourcePanel } from "./source-panel.tsx";
import { BacklogEta } from "../explain/backlog-eta.tsx";
import { AlertBanner } from "../alerts/alert-banner.tsx";
import { AlertsPanel } from "../alerts/alerts-panel.tsx";
import { ZTenantSlug } from "@/server/schemas/tenant.ts";

const noSubscribe = () => () => {};
function useOrigin(): string {
  return useSyncExternalStore(
    noSubscribe,
    () => window.location.origin,
    () => "",
  );
}

export function TenantView({ slug, isAdmin }: { slug: string; isAdmin: boolean }) {
  const trpc = useTRPC();
  const { params, set } = useUrlState();
  const range = parseRange(params.get("range"));
  const compare = params.get("compare") === "1";
  const valid = ZTenantSlug.safeParse(slug).success;

  const tenant = useQuery({ ...trpc.tenants.get.queryOptions({ tenant: slug }), enabled: valid });
  const series = useTenantSeries(slug, range, valid, compare);
  const backlog = useQuery({
    ...trpc.stats.backlog.queryOptions({ tenant: slug }),
    enabled: valid,
    refetchInterval: LIVE_REFRESH_MS,
    refetchIntervalInBackground: false,
    placeholderData: keepPreviousData,
  });

  if (!valid) return <TenantError title="No such tenant" detail={`"${slug}" is not a tenant slug.`} />;
  const accessError = [tenant.error, series.error, backlog.error].find((error) => {
    const described = error ? describeError(error, "this tenant") : null;
    return described !== null && !described.retryable;
  });
  if (accessError) {
    const described = describeError(accessError, "this tenant");
    return <TenantError title={described.title} detail={described.detail} />;
  }

  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link href="/">Overview</Link> / <span className="mono">{slug}</span>
      </nav>
      <div className="page-head">
        <div>
          <h1>{tenant.data?.name ?? slug}</h1>
          <p className="muted small">
            <span className="mono">{slug}</span>
            {tenant.data ? (
              <>
                {" "}
                · rate {formatDecimal(tenant.data.ratePerSecond)}/s, burst {formatCount(tenant.data.burst)} · daily quota{" "}
                {tenant.data.dailyQuota === null ? "unlimited" : formatCount(tenant.data.dailyQuota)} · weight {formatCount(tenant.data.weight)} · max
                concurrency {formatCount(tenant.data.maxConcurrency)}
              </>
            ) : null}
          </p>
        </div>
        <Link className="button" href={`/tenants/${slug}/items`}>
          Browse items
        </Link>
      </div>

      <div className="toolbar">
        <fieldset className="segmented">
          <legend>Range</legend>
          {RANGE_KEYS.map((key) => (
            <label key={key} title={`Last ${RANGES[key].label}`}>
              <input type="radio" name="range" value={key} checked={key === range} onChange={() => set({ range: key === "24h" ? null : key })} />
              <span>{key}</span>
            </label>
          ))}
        </fieldset>
        <label className="check" title="Draw the period before this range as dashed lines">
          <input type="checkbox" checked={compare} onChange={(event) => set({ compare: event.target.checked ? "1" : null })} />
          Compare with previous {RANGES[range].label}
        </label>
        <span className="live-dot" data-fetching={series.isFetching}>
          {series.isPlaceholderData
            ? `Loading the last ${RANGES[range].label}…`
            : series.data
              ? `Live · updated ${formatTimeOfDay(series.dataUpdatedAt, true)}`
              : "Live · every 5 s"}
        </span>
      </div>

      <div className="stack">
        <AlertBanner tenant={slug} />
        {series.isError && series.data ? (
          <p className="notice warn small" role="status">
            Refresh failed ({describeError(series.error).detail}); showing figures from {formatTimeOfDay(series.dataUpdatedAt, true)}.
          </p>
        ) : null}

        {series.isPending ? (
          <TotalsSkeleton />
        ) : series.isError && !series.data ? (
          <ErrorState error={series.error} onRetry={() => void series.refetch()} />
        ) : (
          <Totals series={series.data} stale={series.isPlaceholderData} />
        )}

        <LiveBacklog backlog={backlog.data} error={backlog.isError ? backlog.error : null} slug={slug} isAdmin={isAdmin} />

        <SourcePanel slug={slug} isAdmin={isAdmin} />

        <AlertsPanel slug={slug} isAdmin={isAdmin} />

        {series.isPending ? (
          <div className="charts">
            {["Events received", "Outcomes", "Latency", "Backlog"].map((title) => (
              <section key={title} className="panel chart-panel" aria-busy="true">
                <h2>{title}</h2>
                <Skeleton height={240} />
              </section>
            ))}
          </div>
        ) : series.data ? (
          isEmpty(series.data.points) ? (
            <NoEvents slug={slug} range={range} />
          ) : (
            <Charts slug={slug} range={range} series={series.data} stale={series.isPlaceholderData} limits={tenant.data ?? null} />
          )
        ) : null}
      </div>
    </>
  );
}

type SeriesData = NonNullable<ReturnType<typeof useTenantSeries>["data"]>;

function isEmpty(points: readonly SeriesPoint[]): boolean {
  return points.every(
    (p) =>
      p.receivedCreated +
        p.receivedUpdated +
        p.receivedDeleted +
        p.applied +
        p.stale +
        p.duplicate +
        p.rejected +
        p.dead +
        p.rateLimited +
        p.redelivered +
        p.conflicts +
        p.invalid ===
        0 && !p.backlog,
  );
}

function TenantError({ title, detail }: { title: string; detail: string }) {
  return (
    <div className="notice bad state" role="alert">
      <h1>{title}</h1>
      <p>{detail}</p>
      <p>
        <Link href="/">Back to the overview</Link>
      </p>
    </div>
  );
}

function TotalsSkeleton() {
  return (
    <section className="panel" aria-label="Totals" aria-busy="true">
      <Skeleton height={52} />
      <Skeleton height={16} width="70%" style={{ marginTop: 10 }} />
    </section>
  );
}

function Totals({ series, stale }: { series: SeriesData; stale: boolean }) {
  const t = series.totals;
  const received = t.receivedCreated + t.receivedUpdated + t.receivedDeleted;
  const items: [string, string, string?][] = [
    ["Received", formatCount(received)],
    ["Applied", formatCount(t.applied)],
    ["Stale", formatCount(t.stale)],
    ["Duplicate", formatCount(t.duplicate)],
    ["Rejected", formatCount(t.rejected)],
    ["Dead", formatCount(t.dead), t.dead > 0 ? "var(--bad)" : undefined],
    ["Rate-limited", formatCount(t.rateLimited), t.rateLimited > 0 ? "var(--warn)" : undefined],
    ["p95 latency", formatMs(t.p95)],
  ];
  return (
    <section className="panel" aria-label="Totals" style={stale ? { opacity: 0.55 } : undefined}>
      <dl className="totals">
        {items.map(([label, value, color]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd style={color ? { color } : undefined}>{value}</dd>
          </div>
        ))}
      </dl>
      <p className="range-line">
        <time dateTime={new Date(series.from).toISOString()}>{formatDateTime(series.from)}</time> –{" "}
        <time dateTime={new Date(series.to).toISOString()}>{formatDateTime(series.to)}</time> ({timeZoneLabel(series.to)}) · {BUCKET_LABEL[series.bucket]}, the
        range widened to whole buckets; the last one is still filling.
        <br />
        Latency p50 {formatMs(t.p50)}, p99 {formatMs(t.p99)} · answered without storing: {formatCount(t.redelivered)} redelivered, {formatCount(t.conflicts)}{" "}
        conflicting, {formatCount(t.invalid)} invalid, {formatCount(t.rateLimited)} rate-limited.
      </p>
    </section>
  );
}

function LiveBacklog({
  backlog,
  error,
  slug,
  isAdmin,
}: {
  backlog: { pending: number; processing: number; dead: number; oldestPendingAgeMs: number | null } | undefined;
  error: unknown;
  slug: string;
  isAdmin: boolean;
}) {
  return (
    <section className="panel backlog-panel" aria-labelledby="live-backlog-heading">
      <div className="chart-head" style={{ marginBottom: 8 }}>
        <h2 id="live-backlog-heading">Live backlog</h2>
        <span className="muted small">{error ? `Refresh failed: ${describeError(error).detail}` : "now, every 5 s"}</span>
      </div>
      {backlog ? (
        <dl className="metrics">
          <div>
            <dt>Pending</dt>
            <dd>{formatCount(backlog.pending)}</dd>
          </div>
          <div>
            <dt>In flight</dt>
            <dd>{formatCount(backlog.processing)}</dd>
          </div>
          <div>
            <dt>Dead</dt>
            <dd className={backlog.dead > 0 ? "dead-count" : undefined}>
              {formatCount(backlog.dead)}
              {backlog.dead > 0 && isAdmin ? (
                <>
                  {" "}
                  <Link className="sub" href={`/admin/dead-letters?tenant=${slug}`}>
                    replay…
                  </Link>
                </>
              ) : null}
            </dd>
          </div>
          <div>
            <dt>Oldest pending</dt>
            <dd>{backlog.oldestPendingAgeMs === null ? <span className="muted">—</span> : formatAge(backlog.oldestPendingAgeMs)}</dd>
          </div>
        </dl>
      ) : error ? (
        <p className="muted">Not available.</p>
      ) : (
        <Skeleton height={52} />
      )}
    </section>
  );
}

const BUCKET_PER = { "1m": "minute", "5m": "5 minutes", "1h": "hour", "1d": "day" } as const;

function Charts({ slug, range, series, stale, limits }: { slug: string; range: RangeKey; series: SeriesData; stale: boolean; limits: TenantLimits | null }) {
  const per = BUCKET_PER[series.bucket];
  const previous = series.previous?.points ?? null;
  const bands = limits
    ? limitBands(
        limits,
        series.bucket,
        series.points.map((p) => ({ t: p.t, received: p.receivedCreated + p.receivedUpdated + p.receivedDeleted })),
      )
    : null;
  const file = (chart: string) => `${slug}-${chart}-${range}-${new Date(series.from).toISOString().slice(0, 16).replace(":", "")}`;
  return (
    <div className="charts">
      <TimeSeriesPanel
        title="Events received"
        description={
          <>
            Events stored from webhooks and the source, by type, per {per}.
            {bands ? (
              <>
                {" "}
                Band: the rate limit, {formatCount(bands.rate.sustained)}–{formatCount(bands.rate.withBurst)} per {per} (with one burst)
                {limits && limits.dailyQuota !== null ? `; daily quota ${formatCount(limits.dailyQuota)} (UTC day)` : ""}.
              </>
            ) : null}
          </>
        }
        data={series.points}
        previous={previous}
        limits={bands}
        series={RECEIVED_SERIES}
        bucket={series.bucket}
        unit="count"
        fileName={file("events-received")}
        stale={stale}
        emptyText="No events received in this range."
      />
      <TimeSeriesPanel
        title="Outcomes"
        description="Filled: what processing did with stored events. Dashed: webhook deliveries answered without storing anything."
        data={series.points}
        previous={previous}
        series={OUTCOME_SERIES}
        bucket={series.bucket}
        unit="count"
        fileName={file("outcomes")}
        stale={stale}
        emptyText="Nothing processed or refused in this range."
      />
      <TimeSeriesPanel
        title="Latency"
        description="Received → processed, in ms; gaps where nothing was processed."
        data={series.points}
        previous={previous}
        series={LATENCY_SERIES}
        bucket={series.bucket}
        unit="ms"
        fileName={file("latency")}
        allowLogScale
        stale={stale}
        emptyText="Nothing processed in this range."
      />
      <TimeSeriesPanel
        title="Backlog"
        description={`Highest number of pending events sampled per ${per}; gaps where no sample was taken.`}
        data={series.points}
        previous={previous}
        series={BACKLOG_SERIES}
        bucket={series.bucket}
        unit="count"
        fileName={file("backlog")}
        stale={stale}
        emptyText="No backlog sampled in this range."
      />
      <BacklogEta slug={slug} />
    </div>
  );
}

function NoEvents({ slug, range }: { slug: string; range: RangeKey }) {
  const origin = useOrigin();
  const url = `${origin}/api/webhooks/${slug}`;
  return (
    <section className="panel state" aria-labelledby="no-events-heading">
      <h2 id="no-events-heading">No events in this range</h2>
      <p className="muted">
        Nothing was received, processed or refused for this tenant in the last {RANGES[range].label}. Pick a longer range, or send an event.
      </p>
      <details style={{ textAlign: "left", maxWidth: 760, margin: "12px auto 0" }}>
        <summary>How to send one</summary>
        <p className="small">
          POST a signed JSON event to <code>{url}</code> with the Standard Webhooks headers (<code>webhook-id</code>, <code>webhook-timestamp</code>,{" "}
          <code>webhook-signature</code>); any Standard Webhooks or Svix library can sign it with the tenant&apos;s secret. With a shell:
        </p>
        <pre className="table-scroll small" style={{ padding: 10, margin: 0 }}>
          {`SECRET='whsec_…'   # the tenant's webhook secret
id="evt-$(date +%s)"; ts=$(date +%s)
body='{"type":"item.created","timestamp":"'$(date -u +%Y-%m-%dT%H:%M:%SZ)'","data":{"id":"item-1","version":1,"name":"First item"}}'
key=$(printf '%s' "\${SECRET#whsec_}" | base64 -d | od -An -tx1 | tr -d ' \\n')
sig=$(printf '%s' "$id.$ts.$body" | openssl dgst -sha256 -mac HMAC -macopt hexkey:$key -binary | base64)
curl -i '${url}' -H 'content-type: application/json' \\
  -H "webhook-id: $id" -H "webhook-timestamp: $ts" -H "webhook-signature: v1,$sig" -d "$body"`}
        </pre>
      </details>
    </section>
  );
}
