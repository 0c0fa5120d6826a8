/**
 * The current time rounded up to a whole minute, as React state that changes
 * once a minute: a component can derive a query range from it without
 * reading the clock during render (which would make rendering impure and
 * change the query key on every render).
 */
import { useSyncExternalStore } from "react";

const MINUTE_MS = 60_000;

const nextMinute = () => Math.ceil(Date.now() / MINUTE_MS) * MINUTE_MS;

function subscribe(onChange: () => void): () => void {
  const timer = setInterval(onChange, 5_000);
  return () => clearInterval(timer);
}

export function useMinute(): number {
  return useSyncExternalStore(subscribe, nextMinute, nextMinute);
}
