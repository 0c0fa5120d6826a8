/**
 * The tenant lookup on the webhook hot path, cached in-process.
 *
 * Guarantees:
 * - A slug that cannot exist (fails SLUG_PATTERN: wrong characters, longer
 *   than 63) is unknown without touching the database.
 * - Entries live TENANT_CACHE_TTL_MS, shortened by up to 20% at random so
 *   that entries filled together do not expire together; concurrent misses
 *   for one slug share a single database query (single-flight).
 * - Unknown-but-valid slugs are cached too (NEGATIVE_TTL_MS), in a structure
 *   of at most NEGATIVE_CACHE_MAX entries (the oldest goes first), so a
 *   flood of posts to random URLs neither reaches PostgreSQL once per post
 *   nor grows memory without bound.
 * - A change made in this process (quota edit, secret rotation) calls
 *   forgetTenant after its commit; other processes see a quota change within
 *   one TTL. A secret rotated in another process is seen at once: a
 *   signature that fails against the cached secrets reloads the tenant and
 *   is checked again (revalidateIngestTenant), at most once per slug per
 *   REVALIDATE_AFTER_MS, so a flood of bad signatures costs the database one
 *   query per second, not one per post.
 * - The cache lives on globalThis: the production server's webhook fast path
 *   and the Next.js bundle (tRPC procedures that call forgetTenant) load
 *   this module separately, and must share one cache.
 * - Each entry carries its secrets' HMAC keys, decoded once per load.
 */
import type { KeyObject } from "node:crypto";
import { db } from "../db.ts";
import { env } from "../env.ts";
import { jitterDown, type Random } from "../lib/jitter.ts";
import { SLUG_PATTERN } from "../schemas/tenant.ts";
import { signingKey } from "./signature.ts";

export interface IngestTenant {
  id: number;
  slug: string;
  ratePerSecond: number;
  burst: number;
  dailyQuota: number | null;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
  /** signingKey(secret) and signingKey(previousSecret), decoded when the entry was loaded. */
  secretKey: KeyObject;
  previousSecretKey: KeyObject | null;
}

type Secrets = Pick<IngestTenant, "secret" | "previousSecret" | "previousSecretExpiresAt">;

function previousIsLive(tenant: Secrets, now: Date): boolean {
  return tenant.previousSecret !== null && tenant.previousSecretExpiresAt !== null && tenant.previousSecretExpiresAt > now;
}

/** The secrets that verify a signature at `now`: the current one, and the previous one during its grace period. */
export function liveSecrets(tenant: Secrets, now: Date): string[] {
  return previousIsLive(tenant, now) ? [tenant.secret, tenant.previousSecret as string] : [tenant.secret];
}

/** liveSecrets as their HMAC keys. */
export function liveKeys(tenant: IngestTenant, now: Date): KeyObject[] {
  return previousIsLive(tenant, now) && tenant.previousSecretKey ? [tenant.secretKey, tenant.previousSecretKey] : [tenant.secretKey];
}

const NEGATIVE_TTL_MS = 1_000;
/** Unknown slugs remembered at once, at most; beyond it the oldest is forgotten (a forgotten one costs one query). */
export const NEGATIVE_CACHE_MAX = 10_000;
const JITTER_FRACTION = 0.2;
/** A failed signature reloads the tenant only if its entry is at least this old. */
export const REVALIDATE_AFTER_MS = 1_000;

interface Entry {
  tenant: IngestTenant | null;
  loadedAt: number;
  expiresAt: number;
}

interface CacheState {
  known: Map<string, Entry>;
  /** Insertion order is age order: the first key is the oldest. */
  unknown: Map<string, Entry>;
  inFlight: Map<string, Promise<IngestTenant | null>>;
}

const globalForTenants = globalThis as unknown as { tidemarkTenantCache?: CacheState };
const state: CacheState = (globalForTenants.tidemarkTenantCache ??= { known: new Map(), unknown: new Map(), inFlight: new Map() });

/** True when `slug` could name a tenant at all; anything else is unknown without a query. */
export function isPossibleSlug(slug: string): boolean {
  return SLUG_PATTERN.test(slug);
}

async function loadTenant(slug: string): Promise<IngestTenant | null> {
  const row = await db.tenant.findUnique({
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
  if (!row) return null;
  return { ...row, secretKey: signingKey(row.secret), previousSecretKey: row.previousSecret ? signingKey(row.previousSecret) : null };
}

function remember(slug: string, tenant: IngestTenant | null, random: Random): void {
  const loadedAt = Date.now();
  if (tenant) {
    state.unknown.delete(slug);
    state.known.set(slug, { tenant, loadedAt, expiresAt: loadedAt + jitterDown(env.TENANT_CACHE_TTL_MS, JITTER_FRACTION, random) });
    return;
  }
  state.known.delete(slug);
  state.unknown.delete(slug); // re-inserted below as the youngest
  const ttl = Math.min(NEGATIVE_TTL_MS, env.TENANT_CACHE_TTL_MS);
  state.unknown.set(slug, { tenant: null, loadedAt, expiresAt: loadedAt + jitterDown(ttl, JITTER_FRACTION, random) });
  while (state.unknown.size > NEGATIVE_CACHE_MAX) {
    const oldest = state.unknown.keys().next().value as string;
    state.unknown.delete(oldest);
  }
}

function cached(slug: string): Entry | undefined {
  return state.known.get(slug) ?? state.unknown.get(slug);
}

export async function findIngestTenant(slug: string, random: Random = Math.random): Promise<IngestTenant | null> {
  if (!isPossibleSlug(slug)) return null;
  const entry = cached(slug);
  if (entry && entry.expiresAt > Date.now()) return entry.tenant;

  const pending = state.inFlight.get(slug);
  if (pending) return pending;

  const load = loadTenant(slug)
    .then((tenant) => {
      remember(slug, tenant, random);
      return tenant;
    })
    .finally(() => state.inFlight.delete(slug));
  state.inFlight.set(slug, load);
  return load;
}

/**
 * The tenant as the database has it now, for a signature that failed against
 * the cached secrets (they may have been rotated in another process). Returns
 * the cached entry unchanged if it was loaded less than REVALIDATE_AFTER_MS
 * ago; concurrent calls share one query.
 */
export async function revalidateIngestTenant(slug: string, random: Random = Math.random): Promise<IngestTenant | null> {
  const pending = state.inFlight.get(slug);
  if (pending) return pending;
  const entry = cached(slug);
  if (entry && Date.now() - entry.loadedAt < REVALIDATE_AFTER_MS) return entry.tenant;
  forgetTenant(slug);
  return findIngestTenant(slug, random);
}

/** Drops the cached entry; call after the commit that changed the tenant. */
export function forgetTenant(slug: string): void {
  state.known.delete(slug);
  state.unknown.delete(slug);
}

/** How many unknown slugs are remembered now (at most NEGATIVE_CACHE_MAX). */
export function unknownSlugsCached(): number {
  return state.unknown.size;
}
