import { z } from "zod";
import { db } from "../../db.ts";
import { getFairness } from "../../stats/fairness.ts";
import { getSeries, MAX_RANGE_MS, ZSeriesRange } from "../../stats/series.ts";
import { getBacklog } from "../../stats/backlog.ts";
import { protectedProcedure, router, tenantProcedure } from "../trpc.ts";

export const statsRouter = router({
  /** Time series of one tenant over a range, from the rollups. */
  series: tenantProcedure.input(ZSeriesRange).query(({ ctx, input }) => getSeries(ctx.tenant.id, input)),

  /** The live backlog: pending, in flight, dead, and the oldest pending event's age. */
  backlog: tenantProcedure.query(({ ctx }) => getBacklog(ctx.tenant.id)),

  /** Each visible tenant's share of processed events in a range, beside its share of the weights. */
  fairness: protectedProcedure
    .input(
      z
        .object({ from: z.date(), to: z.date() })
        .refine((range) => range.from < range.to && range.to.getTime() - range.from.getTime() <= MAX_RANGE_MS, "from must be before to, within 400 days"),
    )
    .query(async ({ ctx, input }) => {
      const ids =
        ctx.user.role === "admin" ? (await db.tenant.findMany({ select: { id: true } })).map((tenant) => tenant.id) : ctx.user.tenantIds;
      return getFairness(ids, input.from, input.to);
    }),
});
