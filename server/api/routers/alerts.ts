/**
 * Alerts over tRPC, through the procedure ladder (server/api/trpc.ts): the
 * rules, state and history of a tenant the user may see (tenantProcedure),
 * the firing alerts of every tenant the user may see (for the banner; the
 * tenants come from server/tenants/visibility.ts), and rule changes for
 * admins only (adminTenantProcedure).
 */
import { z } from "zod";
import { alertHistory, firingAlerts, listAlertRules, removeAlertRule, setAlertRule } from "../../alerts/rules.ts";
import { alertTargetUrl } from "../../alerts/target.ts";
import { ZAlertRuleName, ZSetAlertRuleInput } from "../../schemas/alert.ts";
import { visibleTenantIds } from "../../tenants/visibility.ts";
import { adminTenantProcedure, protectedProcedure, router, tenantProcedure } from "../trpc.ts";

export const alertsRouter = router({
  /** The tenant's rules with their state, its last 50 alerts, and whether alerts have somewhere to go. */
  forTenant: tenantProcedure.query(async ({ ctx }) => {
    const [rules, history, targetUrl] = await Promise.all([listAlertRules(ctx.tenant), alertHistory(ctx.tenant.id), alertTargetUrl()]);
    return { rules, history, targetSet: targetUrl !== null };
  }),

  /** The firing alerts of every tenant the user may see, or of the one tenant named. */
  firing: protectedProcedure.input(z.object({ tenant: z.string().optional() }).optional()).query(async ({ ctx, input }) => {
    const alerts = await firingAlerts(await visibleTenantIds(ctx.user));
    return input?.tenant === undefined ? alerts : alerts.filter((alert) => alert.tenant === input.tenant);
  }),

  setRule: adminTenantProcedure.input(z.object({ rule: ZSetAlertRuleInput })).mutation(({ ctx, input }) => setAlertRule(ctx.tenant, input.rule)),

  removeRule: adminTenantProcedure.input(z.object({ rule: ZAlertRuleName })).mutation(({ ctx, input }) => removeAlertRule(ctx.tenant, input.rule)),
});
