/** The application's tRPC router: every procedure the browser can call. */
import { adminRouter } from "./routers/admin.ts";
import { authRouter } from "./routers/auth.ts";
import { explainRouter } from "./routers/explain.ts";
import { healthRouter } from "./routers/health.ts";
import { itemsRouter } from "./routers/items.ts";
import { sourcesRouter } from "./routers/sources.ts";
import { statsRouter } from "./routers/stats.ts";
import { tenantsRouter } from "./routers/tenants.ts";
import { createCallerFactory, router } from "./trpc.ts";

export const appRouter = router({
  health: healthRouter,
  auth: authRouter,
  tenants: tenantsRouter,
  stats: statsRouter,
  items: itemsRouter,
  explain: explainRouter,
  sources: sourcesRouter,
  admin: adminRouter,
});

export type AppRouter = typeof appRouter;

export const createCaller = createCallerFactory(appRouter);
