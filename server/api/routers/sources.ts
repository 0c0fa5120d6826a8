import { z } from "zod";
import { judgeSource, pauseSource, removeSource, resumeSource, setSource, sourceStatus } from "../../collector/sources.ts";
import { ZSetSourceInput } from "../../schemas/source.ts";
import { adminTenantProcedure, router, tenantProcedure } from "../trpc.ts";

export const sourcesRouter = router({
  /** The tenant's source (pull mode) with its badge, or null when it has none; never the token. */
  status: tenantProcedure.query(async ({ ctx }) => {
    const status = await sourceStatus(ctx.tenant);
    return status ? { ...status, summary: judgeSource(status) } : null;
  }),

  set: adminTenantProcedure.input(z.object({ source: ZSetSourceInput })).mutation(({ ctx, input }) => setSource(ctx.tenant, input.source)),

  pause: adminTenantProcedure.mutation(({ ctx }) => pauseSource(ctx.tenant)),

  resume: adminTenantProcedure.mutation(({ ctx }) => resumeSource(ctx.tenant)),

  remove: adminTenantProcedure.mutation(({ ctx }) => removeSource(ctx.tenant)),
});
