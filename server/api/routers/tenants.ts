import { ZTenantPageInput } from "../../schemas/tenant.ts";
import { listed, listVisibleTenants, pageVisibleTenants } from "../../tenants/visibility.ts";
import { protectedProcedure, router, tenantProcedure } from "../trpc.ts";

export const tenantsRouter = router({
  /** Every tenant the user may see, with its overview figures. */
  list: protectedProcedure.query(({ ctx }) => listVisibleTenants(ctx.user)),

  /** One page of the tenants the user may see, most urgent first, narrowed by a search of slugs and names. */
  page: protectedProcedure.input(ZTenantPageInput).query(({ ctx, input }) => pageVisibleTenants(ctx.user, input)),

  get: tenantProcedure.query(({ ctx }) => listed(ctx.tenant)),
});
