/**
 * What each tenant chart draws from a stats.series point: which fields,
 * their labels, colours and CSV columns. The outcomes chart keeps two kinds
 * of numbers apart: processing outcomes (events that were stored and then
 * processed) as stacked areas, and webhook answers that stored nothing
 * (refused or recognised deliveries) as dashed lines.
 */
import type { SeriesPoint } from "@/server/stats/series.ts";
import type { SeriesSpec } from "./types.ts";

export type { SeriesPoint };

export const RECEIVED_SERIES: SeriesSpec<SeriesPoint>[] = [
  { key: "receivedCreated", label: "Created", color: "--chart-created", mark: "area", stackId: "received", csv: "created" },
  { key: "receivedUpdated", label: "Updated", color: "--chart-updated", mark: "area", stackId: "received", csv: "updated" },
  { key: "receivedDeleted", label: "Deleted", color: "--chart-deleted", mark: "area", stackId: "received", csv: "deleted" },
];

export const PROCESSED_GROUP = "Processed";
export const ANSWERS_GROUP = "Webhook answers, nothing stored";

export const OUTCOME_SERIES: SeriesSpec<SeriesPoint>[] = [
  { key: "applied", label: "Applied", color: "--chart-applied", mark: "area", stackId: "outcomes", csv: "applied", group: PROCESSED_GROUP },
  { key: "stale", label: "Stale", color: "--chart-stale", mark: "area", stackId: "outcomes", csv: "stale", group: PROCESSED_GROUP },
  { key: "duplicate", label: "Duplicate", color: "--chart-duplicate", mark: "area", stackId: "outcomes", csv: "duplicate", group: PROCESSED_GROUP },
  { key: "rejected", label: "Rejected", color: "--chart-rejected", mark: "area", stackId: "outcomes", csv: "rejected", group: PROCESSED_GROUP },
  { key: "dead", label: "Dead", color: "--chart-dead", mark: "area", stackId: "outcomes", csv: "dead", group: PROCESSED_GROUP },
  { key: "rateLimited", label: "Rate-limited (429)", color: "--chart-rate-limited", mark: "line", dashed: true, csv: "rate_limited", group: ANSWERS_GROUP },
  { key: "redelivered", label: "Redelivered (200)", color: "--chart-redelivered", mark: "line", dashed: true, csv: "redelivered", group: ANSWERS_GROUP },
  { key: "conflicts", label: "Conflict (409)", color: "--chart-conflicts", mark: "line", dashed: true, csv: "conflicts", group: ANSWERS_GROUP },
  { key: "invalid", label: "Invalid (422)", color: "--chart-invalid", mark: "line", dashed: true, csv: "invalid", group: ANSWERS_GROUP },
];

export const LATENCY_SERIES: SeriesSpec<SeriesPoint>[] = [
  { key: "p50", label: "p50", color: "--chart-p50", mark: "line", csv: "p50_ms" },
  { key: "p95", label: "p95", color: "--chart-p95", mark: "line", csv: "p95_ms" },
  { key: "p99", label: "p99", color: "--chart-p99", mark: "line", csv: "p99_ms" },
];

export const BACKLOG_SERIES: SeriesSpec<SeriesPoint>[] = [
  { key: "backlog", label: "Peak pending", color: "--chart-backlog", mark: "area", csv: "pending_peak" },
];
