/**
 * Tenant administration: create, list, look up by slug, rotate secrets, set
 * quotas. Used by the admin CLI and the admin procedures; both edges validate
 * input with the schemas of server/schemas/tenant.ts and call these
 * functions. `tenantBySlug` / `findTenant(s)` are the one tenant-by-slug
 * lookup (the webhook path keeps its own cached one, with the secrets).
 *
 * A tenant, its scheduler row and its default alert rules
 * (DEFAULT_ALERT_RULES, server/schemas/alert.ts) are created in one
 * transaction, so the fair scheduler never meets a tenant it cannot schedule. Secrets are returned
 * only by create and rotate (shown once); list never returns them. They are
 * stored sealed (server/secrets/secret-box.ts, AES-256-GCM under
 * TIDEMARK_SECRET_KEY): the row alone does not give the secret.
 */
import { db } from "../db.ts";
import { AppError } from "../errors.ts";
import { forgetTenant } from "../ingest/tenant-lookup.ts";
import { generateSecret } from "../ingest/signature.ts";
import { secretKeyring } from "../secrets/keyring.ts";
import { open, seal } from "../secrets/secret-box.ts";
import { Prisma } from "../generated/prisma/client.ts";
import { DEFAULT_ALERT_RULES } from "../schemas/alert.ts";
import { DEFAULT_QUOTAS, DEFAULT_ROTATION_GRACE_HOURS, ZCreateTenantInput, ZQuotas, type TCreateTenantInput, type TQuotas } from "../schemas/tenant.ts";

export const DEFAULT_ROTATION_GRACE_MS = DEFAULT_ROTATION_GRACE_HOURS * 3_600_000;

const publicFields = {
  id: true,
  slug: true,
  name: true,
  ratePerSecond: true,
  burst: true,
  dailyQuota: true,
  weight: true,
  maxConcurrency: true,
  retentionDays: true,
  previousSecretExpiresAt: true,
  createdAt: true,
} as const;

export type PublicTenant = Prisma.TenantGetPayload<{ select: typeof publicFields }>;

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002";
}

export async function createTenant(input: TCreateTenantInput): Promise<{ tenant: PublicTenant; secret: string }> {
  const { slug, name, ...quotas } = ZCreateTenantInput.parse(input);
  const secret = generateSecret();
  try {
    const tenant = await db.tenant.create({
      data: {
        slug,
        name: name ?? slug,
        secret: seal(secretKeyring(), "webhook-secret", secret),
        ...DEFAULT_QUOTAS,
        ...quotas,
        schedule: { create: {} },
        alertRules: { create: DEFAULT_ALERT_RULES.map(({ rule, above, windowMs }) => ({ rule, above, windowMs })) },
      },
      select: publicFields,
    });
    // A post to this slug may have been answered "unknown tenant" and cached as such.
    await forgetTenant(slug);
    return { tenant, secret };
  } catch (error) {
    if (isUniqueViolation(error)) throw new AppError("conflict", `a tenant with slug ${JSON.stringify(slug)} already exists`);
    throw error;
  }
}

export function listTenants(): Promise<PublicTenant[]> {
  return db.tenant.findMany({ select: publicFields, orderBy: { slug: "asc" } });
}

/** The answer when a slug names no tenant; the ladder gives it to admins, who may see every tenant. */
export function noSuchTenant(...slugs: string[]): AppError {
  return new AppError("not_found", `no tenant with slug ${slugs.map((slug) => JSON.stringify(slug)).join(", ")}`);
}

/**
 * The one tenant-by-slug query: those of `slugs` that name a tenant. The
 * procedure ladder, the CLI and memberships all look tenants up through it
 * (in the forms below).
 */
function tenantsWithSlugs(slugs: readonly string[]): Promise<PublicTenant[]> {
  return db.tenant.findMany({ where: { slug: { in: [...slugs] } }, select: publicFields });
}

/** The tenant with this slug, or null. */
export async function tenantBySlug(slug: string): Promise<PublicTenant | null> {
  return (await tenantsWithSlugs([slug]))[0] ?? null;
}

/** The tenant with this slug; not_found if there is none. */
export async function findTenant(slug: string): Promise<PublicTenant> {
  const tenant = await tenantBySlug(slug);
  if (!tenant) throw noSuchTenant(slug);
  return tenant;
}

/** The tenants with these slugs, each once, in the order first given; not_found naming every slug that has none. */
export async function findTenants(slugs: readonly string[]): Promise<PublicTenant[]> {
  const distinct = [...new Set(slugs)];
  const found = new Map((await tenantsWithSlugs(distinct)).map((tenant) => [tenant.slug, tenant]));
  const missing = distinct.filter((slug) => !found.has(slug));
  if (missing.length > 0) throw noSuchTenant(...missing);
  return distinct.map((slug) => found.get(slug) as PublicTenant);
}

/**
 * Issues a new secret; the current one stays valid for `graceMs` (so senders
 * can switch without a gap), replacing any older previous secret.
 */
export async function rotateSecret(slug: string, graceMs = DEFAULT_ROTATION_GRACE_MS): Promise<{ secret: string; previousValidUntil: Date }> {
  const secret = generateSecret();
  const previousValidUntil = new Date(Date.now() + graceMs);
  // The current secret moves to previous as it is stored, sealed; only the new one is sealed here.
  const updated = await db.$executeRaw`
    UPDATE tenants
       SET previous_secret = secret, previous_secret_expires_at = ${previousValidUntil},
           secret = ${seal(secretKeyring(), "webhook-secret", secret)}, updated_at = now()
     WHERE slug = ${slug}`;
  if (updated === 0) throw noSuchTenant(slug);
  await forgetTenant(slug);
  return { secret, previousValidUntil };
}

/**
 * The current secret of a tenant, opened, or null when there is no such
 * tenant: for the local simulator (`npm run sim -- push` without --secret),
 * which signs as the tenant. Never shown by the CLI or the API.
 */
export async function readTenantSecret(slug: string): Promise<string | null> {
  const row = await db.tenant.findUnique({ where: { slug }, select: { secret: true } });
  return row ? open(secretKeyring(), "webhook-secret", row.secret) : null;
}

export async function updateQuotas(slug: string, quotas: Partial<TQuotas>): Promise<PublicTenant> {
  const data = ZQuotas.partial().parse(quotas);
  try {
    const tenant = await db.tenant.update({ where: { slug }, data, select: publicFields });
    await forgetTenant(slug);
    return tenant;
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2025") {
      throw noSuchTenant(slug);
    }
    throw error;
  }
}
