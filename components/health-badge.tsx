"use client";
// Shows whether the server reaches its database and shared store, refreshed every few seconds.
import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "./trpc.ts";

export function HealthBadge() {
  const trpc = useTRPC();
  const health = useQuery({ ...trpc.health.check.queryOptions(), refetchInterval: 5_000 });
  if (health.isPending) return <span className="badge">checking…</span>;
  if (health.isError) return <span className="badge bad">server unreachable</span>;
  const { ok, database, store } = health.data;
  return (
    <span className={`badge ${ok ? "ok" : "bad"}`} role="status">
      database {database} · store {store}
    </span>
  );
}
