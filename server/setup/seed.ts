/**
 * First-start seeding: a first admin and a demo tenant, each only if none of
 * its kind exists. The demo tenant pulls the simulated feed that this app
 * serves itself (server/sim, at /api/sim/demo on PORT), so a new user sees
 * its charts move within a minute, with nothing to configure; an admin can
 * pause it or point it elsewhere like any source. The counts and creations run while this transaction holds
 * an advisory lock, and the creations (on their own connections) commit
 * before it is released, so two processes starting at once seed once. Returns what it created, including
 * credentials that exist nowhere else (a generated password, the demo
 * tenant's secret) for the caller to show once.
 */
import { createUser, type CreatedUser } from "../auth/users.ts";
import { setSource } from "../collector/sources.ts";
import { db } from "../db.ts";
import { env } from "../env.ts";
import { createTenant } from "../tenants/service.ts";

const SEED_LOCK_KEY = 7_204_118_332;
export const DEMO_TENANT_SLUG = "demo";
/** The demo source polls often, so the first charts fill quickly. */
const DEMO_SOURCE_INTERVAL_MS = 2_000;

/** The app's own simulated upstream, as the demo tenant's source (server/sim/upstream.ts). */
export function demoSourceUrls(port: number): { url: string; itemUrl: string } {
  const base = `http://127.0.0.1:${port}/api/sim/demo`;
  return { url: `${base}/events`, itemUrl: `${base}/items` };
}

export interface SeedResult {
  admin?: CreatedUser;
  demoTenant?: { slug: string; secret: string; sourceUrl: string };
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
        const source = await setSource(tenant, { ...demoSourceUrls(env.PORT), intervalMs: DEMO_SOURCE_INTERVAL_MS });
        result.demoTenant = { slug: tenant.slug, secret, sourceUrl: source.url };
      }
      return result;
    },
    { timeout: 30_000 },
  );
}
