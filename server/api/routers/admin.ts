import { z } from "zod";
import { createUser, deleteUser, listUsers, setMemberships } from "../../auth/users.ts";
import { revokeUserSessions } from "../../auth/session.ts";
import { DEFAULT_ROTATION_GRACE_HOURS, ZCreateTenantInput, ZGraceHours, ZQuotas, ZTenantSlug } from "../../schemas/tenant.ts";
import { ZCreateUserInput, ZUserId } from "../../schemas/user.ts";
import { createTenant, rotateSecret, updateQuotas } from "../../tenants/service.ts";
import { listDead, replayDead } from "../../worker/dead-letters.ts";
import { adminProcedure, adminTenantProcedure, router } from "../trpc.ts";

export const adminRouter = router({
  createTenant: adminProcedure.input(ZCreateTenantInput).mutation(({ input }) => createTenant(input)),

  updateQuotas: adminTenantProcedure.input(z.object({ quotas: ZQuotas.partial() })).mutation(({ ctx, input }) => updateQuotas(ctx.tenant.slug, input.quotas)),

  /** A new secret, shown once; the old one keeps verifying for `graceHours`. */
  rotateSecret: adminTenantProcedure
    .input(z.object({ graceHours: ZGraceHours.default(DEFAULT_ROTATION_GRACE_HOURS) }))
    .mutation(({ ctx, input }) => rotateSecret(ctx.tenant.slug, input.graceHours * 3_600_000)),

  deadLetters: adminTenantProcedure
    .input(z.object({ afterId: z.number().int().min(0).optional(), limit: z.number().int().min(1).max(500).default(100) }))
    .query(({ ctx, input }) => listDead(ctx.tenant.id, { afterId: input.afterId, limit: input.limit })),

  /** Replays the tenant's dead events: all of them, or those with the given event ids. */
  replayDead: adminTenantProcedure
    .input(z.object({ eventIds: z.array(z.string().min(1).max(255)).max(1_000).optional() }))
    .mutation(async ({ ctx, input }) => ({ replayed: await replayDead(ctx.tenant.id, input.eventIds) })),

  users: adminProcedure.query(() => listUsers()),

  createUser: adminProcedure.input(ZCreateUserInput).mutation(({ input }) => createUser(input)),

  deleteUser: adminProcedure.input(z.object({ userId: ZUserId })).mutation(({ ctx, input }) => deleteUser(input.userId, ctx.user.id)),

  setMemberships: adminProcedure
    .input(z.object({ userId: ZUserId, tenants: z.array(ZTenantSlug).max(1_000) }))
    .mutation(({ input }) => setMemberships(input.userId, input.tenants)),

  revokeSessions: adminProcedure.input(z.object({ userId: ZUserId })).mutation(async ({ input }) => ({ revoked: await revokeUserSessions(input.userId) })),
});
