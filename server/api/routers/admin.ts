import { z } from "zod";
import { createUser, deleteUser, listUsers, setMemberships, ZCreateUserInput } from "../../auth/users.ts";
import { revokeUserSessions } from "../../auth/session.ts";
import { db } from "../../db.ts";
import { AppError } from "../../errors.ts";
import { createTenant, rotateSecret, updateQuotas, ZCreateTenantInput, ZQuotas, ZTenantSlug } from "../../tenants/service.ts";
import { listDead, replayDead } from "../../worker/dead-letters.ts";
import { adminProcedure, router } from "../trpc.ts";

async function tenantIdOf(slug: string): Promise<number> {
  const tenant = await db.tenant.findUnique({ where: { slug }, select: { id: true } });
  if (!tenant) throw new AppError("not_found", `no tenant with slug ${JSON.stringify(slug)}`);
  return tenant.id;
}

export const adminRouter = router({
  createTenant: adminProcedure.input(ZCreateTenantInput).mutation(({ input }) => createTenant(input)),

  updateQuotas: adminProcedure
    .input(z.object({ tenant: ZTenantSlug, quotas: ZQuotas.partial() }))
    .mutation(({ input }) => updateQuotas(input.tenant, input.quotas)),

  /** A new secret, shown once; the old one keeps verifying for `graceHours`. */
  rotateSecret: adminProcedure
    .input(z.object({ tenant: ZTenantSlug, graceHours: z.number().min(0).max(24 * 30).default(24) }))
    .mutation(({ input }) => rotateSecret(input.tenant, input.graceHours * 3_600_000)),

  deadLetters: adminProcedure
    .input(z.object({ tenant: ZTenantSlug, afterId: z.number().int().min(0).optional(), limit: z.number().int().min(1).max(500).default(100) }))
    .query(async ({ input }) => listDead(await tenantIdOf(input.tenant), { afterId: input.afterId, limit: input.limit })),

  /** Replays the tenant's dead events: all of them, or those with the given event ids. */
  replayDead: adminProcedure
    .input(z.object({ tenant: ZTenantSlug, eventIds: z.array(z.string().min(1).max(255)).max(1_000).optional() }))
    .mutation(async ({ input }) => ({ replayed: await replayDead(await tenantIdOf(input.tenant), input.eventIds) })),

  users: adminProcedure.query(() => listUsers()),

  createUser: adminProcedure.input(ZCreateUserInput).mutation(({ input }) => createUser(input)),

  deleteUser: adminProcedure.input(z.object({ userId: z.number().int() })).mutation(({ ctx, input }) => deleteUser(input.userId, ctx.user.id)),

  setMemberships: adminProcedure
    .input(z.object({ userId: z.number().int(), tenants: z.array(ZTenantSlug).max(1_000) }))
    .mutation(({ input }) => setMemberships(input.userId, input.tenants)),

  revokeSessions: adminProcedure
    .input(z.object({ userId: z.number().int() }))
    .mutation(async ({ input }) => ({ revoked: await revokeUserSessions(input.userId) })),
});
