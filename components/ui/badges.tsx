// Small status words with colour; the colour never carries the meaning alone.
import type { ReactNode } from "react";
import type { SourceSummary } from "@/server/collector/sources.ts";
import type { HealthVerdict } from "@/server/stats/overview.ts";

const HEALTH_LABEL: Record<HealthVerdict, string> = { ok: "Healthy", idle: "Idle", warn: "Warning", bad: "Unhealthy" };

/** A tenant's health verdict; the reason is in the tooltip and read out with the badge. */
export function HealthPill({ health, reason }: { health: HealthVerdict; reason: string }) {
  return (
    <span className={`badge ${health}`} title={reason} data-health={health}>
      {HEALTH_LABEL[health]}
      <span className="visually-hidden">: {reason}</span>
    </span>
  );
}

const OUTCOME_TONE: Record<string, string> = {
  applied: "ok",
  stale: "neutral",
  duplicate: "info",
  rejected: "warn",
  dead: "bad",
};

/** An event's outcome; null while it waits or is being processed, shown as its status. */
export function OutcomeBadge({ outcome, status }: { outcome: string | null; status: string }) {
  if (outcome === null) {
    const tone = status === "dead" ? "bad" : "neutral";
    return <span className={`badge ${tone}`}>{status === "processing" ? "in flight" : status}</span>;
  }
  return <span className={`badge ${OUTCOME_TONE[outcome] ?? "neutral"}`}>{outcome}</span>;
}

export function Badge({ tone = "neutral", children }: { tone?: "ok" | "warn" | "bad" | "info" | "neutral"; children: ReactNode }) {
  return <span className={`badge ${tone}`}>{children}</span>;
}

/** A tenant's source (pull mode) in one word or two; why, in the tooltip and for screen readers. */
export function SourceBadge({ summary }: { summary: SourceSummary }) {
  return (
    <span className={`badge ${summary.tone}`} title={summary.reason} data-source={summary.label}>
      {summary.label}
      <span className="visually-hidden">: {summary.reason}</span>
    </span>
  );
}
