import { listed, listVisibleTenants } from "../../tenants/visibility.ts";
import { protectedProcedure, router, tenantProcedure } from "../trpc.ts";

export const tenantsRouter = router({
  /** Every tenant the user may see, with its overview figures. */
  list: protectedProcedure.query(({ ctx }) => listVisibleTenants(ctx.user)),

  get: tenantProcedure.query(({ ctx }) => listed(ctx.tenant)),
});
