/**
 * Tenant administration: create, list, rotate secrets, set quotas. Used by
 * the admin CLI and the admin procedures; both edges validate input with the
 * schemas here and call these functions.
 *
 * A tenant and its scheduler row are created in one transaction, so the fair
 * scheduler never meets a tenant it cannot schedule. Secrets are returned
 * only by create and rotate (shown once); list never returns them.
 */
import { z } from "zod";
import { db } from "../db.ts";
import { AppError } from "../errors.ts";
import { forgetTenant } from "../ingest/tenant-lookup.ts";
import { generateSecret } from "../ingest/signature.ts";
import { Prisma } from "../generated/prisma/client.ts";

export const ZTenantSlug = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, "must be 1–63 lowercase letters, digits or dashes, not starting or ending with a dash");

export const ZQuotas = z.object({
  ratePerSecond: z.number().positive().max(1_000_000),
  burst: z.number().int().min(1).max(10_000_000),
  dailyQuota: z.number().int().min(1).max(10_000_000_000).nullable(),
  weight: z.number().int().min(1).max(1_000),
  maxConcurrency: z.number().int().min(1).max(64),
});
export type TQuotas = z.infer<typeof ZQuotas>;

export const DEFAULT_QUOTAS: TQuotas = { ratePerSecond: 100, burst: 200, dailyQuota: null, weight: 1, maxConcurrency: 2 };

export const ZCreateTenantInput = ZQuotas.partial().extend({
  slug: ZTenantSlug,
  name: z.string().trim().min(1).max(200).optional(),
});
export type TCreateTenantInput = z.infer<typeof ZCreateTenantInput>;

/** How long the previous secret keeps verifying after a rotation. */
export const DEFAULT_ROTATION_GRACE_MS = 24 * 60 * 60 * 1000;

const publicFields = {
  id: true,
  slug: true,
  name: true,
  ratePerSecond: true,
  burst: true,
  dailyQuota: true,
  weight: true,
  maxConcurrency: true,
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
      data: { slug, name: name ?? slug, secret, ...DEFAULT_QUOTAS, ...quotas, schedule: { create: {} } },
      select: publicFields,
    });
    return { tenant, secret };
  } catch (error) {
    if (isUniqueViolation(error)) throw new AppError("conflict", `a tenant with slug ${JSON.stringify(slug)} already exists`);
    throw error;
  }
}

export function listTenants(): Promise<PublicTenant[]> {
  return db.tenant.findMany({ select: publicFields, orderBy: { slug: "asc" } });
}

export async function findTenant(slug: string): Promise<PublicTenant> {
  const tenant = await db.tenant.findUnique({ where: { slug }, select: publicFields });
  if (!tenant) throw new AppError("not_found", `no tenant with slug ${JSON.stringify(slug)}`);
  return tenant;
}

/**
 * Issues a new secret; the current one stays valid for `graceMs` (so senders
 * can switch without a gap), replacing any older previous secret.
 */
export async function rotateSecret(slug: string, graceMs = DEFAULT_ROTATION_GRACE_MS): Promise<{ secret: string; previousValidUntil: Date }> {
  const secret = generateSecret();
  const previousValidUntil = new Date(Date.now() + graceMs);
  const updated = await db.$executeRaw`
    UPDATE tenants
       SET previous_secret = secret, previous_secret_expires_at = ${previousValidUntil},
           secret = ${secret}, updated_at = now()
     WHERE slug = ${slug}`;
  if (updated === 0) throw new AppError("not_found", `no tenant with slug ${JSON.stringify(slug)}`);
  forgetTenant(slug);
  return { secret, previousValidUntil };
}

export async function updateQuotas(slug: string, quotas: Partial<TQuotas>): Promise<PublicTenant> {
  const data = ZQuotas.partial().parse(quotas);
  try {
    const tenant = await db.tenant.update({ where: { slug }, data, select: publicFields });
    forgetTenant(slug);
    return tenant;
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2025") {
      throw new AppError("not_found", `no tenant with slug ${JSON.stringify(slug)}`);
    }
    throw error;
  }
}
