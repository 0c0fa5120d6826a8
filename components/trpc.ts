"use client";
// The typed tRPC hooks for client components (TanStack Query options proxy).
import { createTRPCContext } from "@trpc/tanstack-react-query";
import type { AppRouter } from "@/server/api/root.ts";

export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();
