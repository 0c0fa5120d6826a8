/**
 * The tenant lookup on the webhook hot path, cached in-process.
 *
 * Entries live TENANT_CACHE_TTL_MS, shortened by up to 20% at random so that
 * entries filled together do not expire together; concurrent misses for one
 * slug share a single database query (single-flight). Unknown slugs are cached
 * briefly too, so a flood of posts to a wrong URL does not reach PostgreSQL.
 * A change made in this process (quota edit, secret rotation) calls
 * forgetTenant after its commit; other processes see a quota change within
 * one TTL. A secret rotated in another process is seen at once: a signature
 * that fails against the cached secrets reloads the tenant and is checked
 * again (revalidateIngestTenant), at most once per slug per
 * REVALIDATE_AFTER_MS, so a flood of bad signatures costs the database one
 * query per second, not one per post.
 */
import { db } from "../db.ts";
import { env } from "../env.ts";
import { jitterDown, type Random } from "../lib/jitter.ts";

export interface IngestTenant {
  id: number;
  slug: string;
  ratePerSecond: number;
  burst: number;
  dailyQuota: number | null;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
}

/** The secrets that verify a signature at `now`: the current one, and the previous one during its grace period. */
export function liveSecrets(tenant: IngestTenant, now: Date): string[] {
  const secrets = [tenant.secret];
  if (tenant.previousSecret && tenant.previousSecretExpiresAt && tenant.previousSecretExpiresAt > now) {
    secrets.push(tenant.previousSecret);
  }
  return secrets;
}

const NEGATIVE_TTL_MS = 1_000;
const JITTER_FRACTION = 0.2;
/** A failed signature reloads the tenant only if its entry is at least this old. */
export const REVALIDATE_AFTER_MS = 1_000;

interface Entry {
  tenant: IngestTenant | null;
  loadedAt: number;
  expiresAt: number;
}

const cache = new Map<string, Entry>();
const inFlight = new Map<string, Promise<IngestTenant | null>>();

async function loadTenant(slug: string): Promise<IngestTenant | null> {
  return db.tenant.findUnique({
    where: { slug },
    select: {
      id: true,
      slug: true,
      ratePerSecond: true,
      burst: true,
      dailyQuota: true,
      secret: true,
      previousSecret: true,
      previousSecretExpiresAt: true,
    },
  });
}

export async function findIngestTenant(slug: string, random: Random = Math.random): Promise<IngestTenant | null> {
  const now = Date.now();
  const cached = cache.get(slug);
  if (cached && cached.expiresAt > now) return cached.tenant;

  const pending = inFlight.get(slug);
  if (pending) return pending;

  const load = loadTenant(slug)
    .then((tenant) => {
      const ttl = tenant ? env.TENANT_CACHE_TTL_MS : Math.min(NEGATIVE_TTL_MS, env.TENANT_CACHE_TTL_MS);
      const loadedAt = Date.now();
      cache.set(slug, { tenant, loadedAt, expiresAt: loadedAt + jitterDown(ttl, JITTER_FRACTION, random) });
      return tenant;
    })
    .finally(() => inFlight.delete(slug));
  inFlight.set(slug, load);
  return load;
}

/**
 * The tenant as the database has it now, for a signature that failed against
 * the cached secrets (they may have been rotated in another process). Returns
 * the cached entry unchanged if it was loaded less than REVALIDATE_AFTER_MS
 * ago; concurrent calls share one query.
 */
export async function revalidateIngestTenant(slug: string, random: Random = Math.random): Promise<IngestTenant | null> {
  const pending = inFlight.get(slug);
  if (pending) return pending;
  const cached = cache.get(slug);
  if (cached && Date.now() - cached.loadedAt < REVALIDATE_AFTER_MS) return cached.tenant;
  cache.delete(slug);
  return findIngestTenant(slug, random);
}

/** Drops the cached entry; call after the commit that changed the tenant. */
export function forgetTenant(slug: string): void {
  cache.delete(slug);
}
