import { z } from "zod";
import { getItemHistory, listItems, ZListItemsInput } from "../../items/browse.ts";
import { router, tenantProcedure } from "../trpc.ts";

export const itemsRouter = router({
  list: tenantProcedure.input(ZListItemsInput).query(({ ctx, input }) => listItems(ctx.tenant.id, input)),
  history: tenantProcedure.input(z.object({ itemId: z.string().min(1).max(255) })).query(({ ctx, input }) => getItemHistory(ctx.tenant.id, input.itemId)),
});
