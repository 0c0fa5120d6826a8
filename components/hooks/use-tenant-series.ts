"use client";
/**
 * A tenant's series for a moving window ("the last 24 hours"), refreshed
 * every few seconds while the tab is visible.
 *
 * With `compare`, the answer also holds the previous period (the same
 * window shifted back by its length), read server-side from the rollups.
 *
 * The query key is (tenant, range, compare), never the window's instants: from/to
 * are computed inside the query function at each fetch, so the key does not
 * change with the clock (no cache entry per tick, no refetch storm), and
 * the server aligns the window to whole buckets and reports it back. While
 * another range loads, the previous one stays on screen (keepPreviousData).
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useTRPC, useTRPCClient } from "../trpc.ts";

export const RANGES = {
  "1h": { ms: 3_600_000, label: "1 hour" },
  "6h": { ms: 6 * 3_600_000, label: "6 hours" },
  "24h": { ms: 24 * 3_600_000, label: "24 hours" },
  "7d": { ms: 7 * 86_400_000, label: "7 days" },
  "30d": { ms: 30 * 86_400_000, label: "30 days" },
} as const;

export type RangeKey = keyof typeof RANGES;
export const RANGE_KEYS = Object.keys(RANGES) as RangeKey[];
export const DEFAULT_RANGE: RangeKey = "24h";

export function parseRange(value: string | null): RangeKey {
  return value !== null && value in RANGES ? (value as RangeKey) : DEFAULT_RANGE;
}

export const LIVE_REFRESH_MS = 5_000;

export function useTenantSeries(tenant: string, range: RangeKey, enabled = true, compare = false) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  return useQuery({
    // Shaped like tRPC's own keys, so invalidating trpc.stats.series.pathFilter() reaches it.
    queryKey: [...trpc.stats.series.pathKey(), { input: { tenant, range, compare }, type: "query" }] as const,
    queryFn: ({ signal }) => {
      const to = new Date();
      return client.stats.series.query({ tenant, from: new Date(to.getTime() - RANGES[range].ms), to, compare }, { signal });
    },
    enabled,
    refetchInterval: LIVE_REFRESH_MS,
    refetchIntervalInBackground: false,
    placeholderData: keepPreviousData,
    staleTime: LIVE_REFRESH_MS,
  });
}
