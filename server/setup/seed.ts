/**
 * First-start seeding: a first admin and a demo tenant, each only if none of
 * its kind exists. The counts and creations run while this transaction holds
 * an advisory lock, and the creations (on their own connections) commit
 * before it is released, so two processes starting at once seed once. Returns what it created, including
 * credentials that exist nowhere else (a generated password, the demo
 * tenant's secret) for the caller to show once.
 */
import { createUser, type CreatedUser } from "../auth/users.ts";
import { db } from "../db.ts";
import { env } from "../env.ts";
import { createTenant } from "../tenants/service.ts";

const SEED_LOCK_KEY = 7_204_118_332;
export const DEMO_TENANT_SLUG = "demo";

export interface SeedResult {
  admin?: CreatedUser;
  demoTenant?: { slug: string; secret: string };
}

export async function seedIfEmpty(): Promise<SeedResult> {
  return db.$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${SEED_LOCK_KEY})`;
      const result: SeedResult = {};
      if ((await tx.user.count({ where: { role: "admin" } })) === 0) {
        result.admin = await createUser({ email: env.ADMIN_EMAIL ?? "admin@tidemark.local", role: "admin", password: env.ADMIN_PASSWORD });
      }
      if ((await tx.tenant.count()) === 0) {
        const { tenant, secret } = await createTenant({ slug: DEMO_TENANT_SLUG, name: "Demo tenant" });
        result.demoTenant = { slug: tenant.slug, secret };
      }
      return result;
    },
    { timeout: 30_000 },
  );
}
