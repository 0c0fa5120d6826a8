import { getFairness } from "../../stats/fairness.ts";
import { getComparedSeries, ZSeriesQuery, ZSeriesRange } from "../../stats/series.ts";
import { getBacklog } from "../../stats/backlog.ts";
import { visibleTenantIds } from "../../tenants/visibility.ts";
import { protectedProcedure, router, tenantProcedure } from "../trpc.ts";

export const statsRouter = router({
  /** Time series of one tenant over a range, from the rollups; with compare: true, the previous period beside it. */
  series: tenantProcedure.input(ZSeriesQuery).query(({ ctx, input }) => getComparedSeries(ctx.tenant.id, input)),

  /** The live backlog: pending, in flight, dead, and the oldest pending event's age. */
  backlog: tenantProcedure.query(({ ctx }) => getBacklog(ctx.tenant.id)),

  /** The busiest visible tenants' shares of processed events in a range, beside their shares of the weights, and the rest as "others". The range follows the series' rules (a bucket, if given, is ignored). */
  fairness: protectedProcedure.input(ZSeriesRange).query(async ({ ctx, input }) => getFairness(await visibleTenantIds(ctx.user), input.from, input.to)),
});
