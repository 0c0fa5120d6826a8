"use client";
// The typed tRPC hooks for client components (TanStack Query options proxy), and the plain client for hand-written query functions.
import { createTRPCContext } from "@trpc/tanstack-react-query";
import type { AppRouter } from "@/server/api/root.ts";

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();
