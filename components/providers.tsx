"use client";
// Client-side providers: one QueryClient per browser tab, and the tRPC client over HTTP batching.
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink } from "@trpc/client";
import { useState, type ReactNode } from "react";
import superjson from "superjson";
import type { AppRouter } from "@/server/api/root.ts";
import { errorCode, isClientError } from "./errors.ts";
import { TRPCProvider } from "./trpc.ts";

/**
 * A session that ends while a page is open (signed out elsewhere, revoked by
 * an admin, expired) shows up as UNAUTHORIZED on the next call: go to sign-in
 * and come back here afterwards.
 */
function onUnauthorized(error: unknown): void {
  if (errorCode(error) !== "UNAUTHORIZED" || typeof window === "undefined") return;
  const { pathname, search } = window.location;
  if (pathname === "/sign-in") return;
  // A full page load on purpose: the session is gone, so nothing cached for it (queries, server components) may survive.
  // eslint-disable-next-line @next/next/no-location-assign-relative-destination -- see above
  window.location.assign(`/sign-in?next=${encodeURIComponent(pathname + search)}`);
}

export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(
    () =>
      new QueryClient({
        queryCache: new QueryCache({ onError: onUnauthorized }),
        mutationCache: new MutationCache({ onError: onUnauthorized }),
        defaultOptions: {
          queries: {
            staleTime: 5_000,
            refetchOnWindowFocus: true,
            // FORBIDDEN, NOT_FOUND and bad input stay so; only outages and timeouts are worth one more try.
            retry: (failures, error) => !isClientError(error) && failures < 1,
          },
        },
      }),
  );
  // maxItems: the server refuses a batch of more than MAX_BATCH_CALLS (server/api/trpc.ts) calls.
  const [trpcClient] = useState(() => createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: "/api/trpc", transformer: superjson, maxItems: 10 })] }));
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
