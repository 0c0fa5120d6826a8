/** Why events wait, and when a tenant's backlog drains: tenant-scoped reads (server/explain), behind tenantProcedure. */
import { z } from "zod";
import { tenantDrainEstimate } from "../../explain/drain-rates.ts";
import { explainEventById, explainItem } from "../../explain/service.ts";
import { router, tenantProcedure } from "../trpc.ts";

const ZId = z.string().min(1).max(255);

export const explainRouter = router({
  /** Each pending or in-flight event of the item, with why it waits (the item page). */
  item: tenantProcedure.input(z.object({ itemId: ZId })).query(({ ctx, input }) => explainItem(ctx.tenant.id, input.itemId)),

  /** One event by its event id: why it waits, or null when it does not (done, dead, or unknown). */
  event: tenantProcedure.input(z.object({ eventId: ZId })).query(({ ctx, input }) => explainEventById(ctx.tenant.id, input.eventId)),

  /** When the tenant's backlog will be gone at its recent rates (the tenant page, beside the backlog chart). */
  eta: tenantProcedure.query(({ ctx }) => tenantDrainEstimate(ctx.tenant.id)),
});
