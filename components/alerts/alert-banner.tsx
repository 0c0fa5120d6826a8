"use client";
/**
 * The firing-alerts banner, on the overview (every tenant the user may see)
 * and on a tenant's page (that tenant only): one line per firing alert with
 * its value, threshold and since when, linking to the tenant. Refreshed every
 * 5 s while the tab is visible. Nothing while loading or when nothing fires;
 * a quiet line when the check fails, so a failure never reads as "all clear".
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { LIVE_REFRESH_MS } from "../hooks/use-tenant-series.ts";
import { useTRPC } from "../trpc.ts";
import { describeError } from "../ui/states.tsx";
import { Time } from "../ui/time.tsx";
import { formatAlertValue, ruleLabel } from "./alert-format.ts";

export function AlertBanner({ tenant }: { tenant?: string }) {
  const trpc = useTRPC();
  const firing = useQuery({
    ...trpc.alerts.firing.queryOptions(tenant === undefined ? undefined : { tenant }),
    refetchInterval: LIVE_REFRESH_MS,
    refetchIntervalInBackground: false,
    placeholderData: keepPreviousData,
  });
  if (firing.isPending) return null;
  if (firing.isError && !firing.data) {
    return (
      <p className="notice warn small" role="status">
        Could not check for firing alerts: {describeError(firing.error).detail}
      </p>
    );
  }
  const alerts = firing.data;
  if (alerts.length === 0) return null;
  return (
    <section className="notice bad alert-banner" role="alert" aria-label="Firing alerts" data-firing={alerts.length}>
      <strong>
        {alerts.length === 1 ? "1 alert firing" : `${alerts.length} alerts firing`}
        {firing.isError ? " (refresh failed; showing earlier state)" : ""}
      </strong>
      <ul>
        {alerts.map((alert) => (
          <li key={`${alert.tenant}:${alert.rule}`} data-alert-rule={alert.rule}>
            {tenant === undefined ? (
              <>
                <Link href={`/tenants/${alert.tenant}`} className="mono">
                  {alert.tenant}
                </Link>
                :{" "}
              </>
            ) : null}
            {ruleLabel(alert.rule)} at {formatAlertValue(alert.rule, alert.value)} (above {formatAlertValue(alert.rule, alert.threshold)}) since{" "}
            <Time value={new Date(alert.since)} />
          </li>
        ))}
      </ul>
    </section>
  );
}
