/**
 * Which tenants a user may see: an admin every tenant, a viewer the tenants
 * they are a member of. This is the one statement of that rule: the
 * procedure ladder (tenantProcedure) asks `maySee`, and every listing of
 * tenants goes through `listVisibleTenants`, `pageVisibleTenants` or
 * `visibleTenantIds`: a search or a page can only narrow what `visibleWhere`
 * allows, never widen it.
 *
 * What a listing shows of a tenant is its name and quotas; never a secret
 * or when the previous one expires.
 */
import type { SessionUser } from "../auth/session.ts";
import { sourceSummaries, type SourceSummary } from "../collector/sources.ts";
import { db } from "../db.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import type { TTenantPageInput } from "../schemas/tenant.ts";
import { firingAlertCounts } from "../alerts/rules.ts";
import { rankByAttention, type CountedKey } from "../stats/attention.ts";
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
export async function listVisibleTenants(user: Viewer): Promise<OverviewTenant[]> {
  const tenants = await db.tenant.findMany({ where: visibleWhere(user), select: listedFields, orderBy: { slug: "asc" } });
  return withFigures(tenants);
}

export type OverviewTenant = ListedTenant & { overview: TenantOverview | null; source: SourceSummary | null };

async function withFigures(tenants: ListedTenant[]): Promise<OverviewTenant[]> {
  const ids = tenants.map((tenant) => tenant.id);
  const [overview, sources] = await Promise.all([getOverview(ids), sourceSummaries(ids)]);
  return tenants.map((tenant) => ({ ...tenant, overview: overview.get(tenant.id) ?? null, source: sources.get(tenant.id) ?? null }));
}

export interface TenantPage {
  tenants: OverviewTenant[];
  /** Visible tenants matching the search, on every page. */
  total: number;
  offset: number;
  limit: number;
}

/** Tenants whose slug or name contains the text, in any case (no wildcards: `%` and `_` are themselves). */
/** Ranked before the built-in keys of the attention order: a tenant with a firing alert comes first. */
const ATTENTION_COUNTS: readonly CountedKey[] = [{ name: "firing alerts", read: firingAlertCounts }];

function searchWhere(search: string | undefined): Prisma.TenantWhereInput {
  // Prisma passes `contains` to ILIKE as it is; backslash is PostgreSQL's default LIKE escape.
  const text = search?.trim().replace(/[\\%_]/g, (c) => `\\${c}`);
  if (!text) return {};
  return { OR: [{ slug: { contains: text, mode: "insensitive" } }, { name: { contains: text, mode: "insensitive" } }] };
}

/**
 * One page of the tenants the user may see and the search matches, most urgent first (server/stats/attention.ts),
 * each with its overview figures and source badge; the figures are read for that page's tenants only.
 */
export async function pageVisibleTenants(user: Viewer, input: TTenantPageInput): Promise<TenantPage> {
  const candidates = await db.tenant.findMany({ where: { AND: [visibleWhere(user), searchWhere(input.search)] }, select: { id: true, slug: true } });
  const ranked = await rankByAttention(candidates, ATTENTION_COUNTS);
  const pageIds = ranked.slice(input.offset, input.offset + input.limit).map((figures) => figures.tenantId);
  const rows = await db.tenant.findMany({ where: { id: { in: pageIds } }, select: listedFields });
  const byId = new Map(rows.map((row) => [row.id, row]));
  const tenants = pageIds.flatMap((id) => byId.get(id) ?? []);
  return { tenants: await withFigures(tenants), total: ranked.length, offset: input.offset, limit: input.limit };
}
