"use client";
/**
 * Reading and replacing query-string parameters of the current page (range,
 * search, toggles): the URL is the state, so a view can be shared or reloaded.
 *
 * The new parameters apply at once (useOptimistic) while the router replaces
 * the URL in a transition; without that, a controlled radio or checkbox
 * would spring back until the navigation finished. Callers must sit inside
 * <Suspense> (useSearchParams).
 */
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { startTransition, useCallback, useMemo, useOptimistic } from "react";

export function useUrlState() {
  const searchParams = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const [query, setOptimisticQuery] = useOptimistic(searchParams.toString());
  const params = useMemo(() => new URLSearchParams(query), [query]);

  const set = useCallback(
    (changes: Record<string, string | null>) => {
      const next = new URLSearchParams(query);
      for (const [key, value] of Object.entries(changes)) {
        if (value === null || value === "") next.delete(key);
        else next.set(key, value);
      }
      const nextQuery = next.toString();
      if (nextQuery === query) return;
      startTransition(() => {
        setOptimisticQuery(nextQuery);
        router.replace(nextQuery ? `${pathname}?${nextQuery}` : pathname, { scroll: false });
      });
    },
    [router, pathname, query, setOptimisticQuery],
  );
  return { params, set };
}
