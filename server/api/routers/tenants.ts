import { db } from "../../db.ts";
import { getOverview } from "../../stats/overview.ts";
import { protectedProcedure, router, tenantProcedure } from "../trpc.ts";

const visibleFields = { id: true, slug: true, name: true, ratePerSecond: true, burst: true, dailyQuota: true, weight: true, maxConcurrency: true } as const;

export const tenantsRouter = router({
  /** Every tenant the user may see, with its overview figures. */
  list: protectedProcedure.query(async ({ ctx }) => {
    const tenants = await db.tenant.findMany({
      where: ctx.user.role === "admin" ? {} : { id: { in: ctx.user.tenantIds } },
      select: visibleFields,
      orderBy: { slug: "asc" },
    });
    const overview = await getOverview(tenants.map((tenant) => tenant.id));
    return tenants.map((tenant) => ({ ...tenant, overview: overview.get(tenant.id) ?? null }));
  }),

  get: tenantProcedure.query(({ ctx }) => db.tenant.findUniqueOrThrow({ where: { id: ctx.tenant.id }, select: visibleFields })),
});
