/**
 * Which tenants a user may see: an admin every tenant, a viewer the tenants
 * they are a member of. This is the one statement of that rule: the
 * procedure ladder (tenantProcedure) asks `maySee`, and every listing of
 * tenants goes through `listVisibleTenants` or `visibleTenantIds`.
 *
 * What a listing shows of a tenant is its name and quotas; never a secret
 * or when the previous one expires.
 */
import type { SessionUser } from "../auth/session.ts";
import { sourceSummaries, type SourceSummary } from "../collector/sources.ts";
import { db } from "../db.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { getOverview, type TenantOverview } from "../stats/overview.ts";
import type { PublicTenant } from "./service.ts";

export type Viewer = Pick<SessionUser, "role" | "tenantIds">;

export function seesEveryTenant(user: Viewer): boolean {
  return user.role === "admin";
}

export function maySee(user: Viewer, tenant: { id: number }): boolean {
  return seesEveryTenant(user) || user.tenantIds.includes(tenant.id);
}

function visibleWhere(user: Viewer): Prisma.TenantWhereInput {
  return seesEveryTenant(user) ? {} : { id: { in: user.tenantIds } };
}

const listedFields = {
  id: true,
  slug: true,
  name: true,
  ratePerSecond: true,
  burst: true,
  dailyQuota: true,
  weight: true,
  maxConcurrency: true,
  retentionDays: true,
} as const;

export type ListedTenant = Prisma.TenantGetPayload<{ select: typeof listedFields }>;

/** What a listing shows of a tenant the caller already may see. */
export function listed(tenant: PublicTenant): ListedTenant {
  return Object.fromEntries(Object.keys(listedFields).map((field) => [field, tenant[field as keyof ListedTenant]])) as ListedTenant;
}

/** The ids of every tenant the user may see. */
export async function visibleTenantIds(user: Viewer): Promise<number[]> {
  return (await db.tenant.findMany({ where: visibleWhere(user), select: { id: true } })).map((tenant) => tenant.id);
}

/**
 * Every tenant the user may see, by slug, with its overview figures (null where none could be read for it)
 * and its source's badge (null: no source, push only).
 */
export async function listVisibleTenants(user: Viewer): Promise<(ListedTenant & { overview: TenantOverview | null; source: SourceSummary | null })[]> {
  const tenants = await db.tenant.findMany({ where: visibleWhere(user), select: listedFields, orderBy: { slug: "asc" } });
  const ids = tenants.map((tenant) => tenant.id);
  const overview = await getOverview(ids);
  const sources = await sourceSummaries(ids);
  return tenants.map((tenant) => ({ ...tenant, overview: overview.get(tenant.id) ?? null, source: sources.get(tenant.id) ?? null }));
}
