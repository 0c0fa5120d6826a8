/**
 * The tenant lookup on the webhook hot path, through the shared cache
 * (server/cache, cache "tenant"), so that every process sees one truth.
 *
 * Guarantees:
 * - A change made by an admin (quota edit, secret rotation, tenant created)
 *   takes effect on the very next request in every process: the change's
 *   commit is followed by forgetTenant, which invalidates the shared entry
 *   (a generation bump, so a load that raced the commit cannot put the old
 *   row back). Without Redis the store is in-process and so is the truth.
 * - Entries live TENANT_CACHE_TTL_MS, shortened by up to 20% at random, so
 *   entries filled together do not expire together; hot entries refresh early
 *   (XFetch) and one loader per slug runs at a time across processes; in one
 *   process concurrent misses share one query.
 * - A slug that cannot exist (fails SLUG_PATTERN: wrong characters, longer
 *   than 63) is unknown without touching the database or Redis.
 * - Unknown-but-valid slugs are also remembered in this process for
 *   NEGATIVE_TTL_MS, in a structure of at most NEGATIVE_CACHE_MAX entries
 *   (the oldest goes first), so a flood of posts to random URLs neither
 *   reaches PostgreSQL or Redis once per post nor grows memory without bound.
 *   A tenant created meanwhile in another process is found within that second.
 * - A row changed behind the cache's back (by SQL, say) is seen at once when
 *   it matters: a signature that fails against the cached secrets reloads the
 *   tenant and is checked again (revalidateIngestTenant), at most once per
 *   slug per REVALIDATE_AFTER_MS in each process, so a flood of bad
 *   signatures costs the database one query per second, not one per post.
 * - Secrets are stored sealed (server/secrets/secret-box.ts) and stay sealed
 *   everywhere but in this process's memory: the shared cache (Redis, when
 *   configured) holds the row as stored, ciphertext, so a dump of Redis is
 *   no more use for signing than a dump of PostgreSQL. Each sealed secret is
 *   opened and decoded into its HMAC key once per process (the key memo,
 *   keyed by the ciphertext), so the webhook hot path pays no AES per
 *   request; a rotation stores a new ciphertext, which misses the memo.
 * - The single-event webhook (findCheckedTenant) spares even the shared
 *   cache's round trip: each process keeps the tenant it read, with the
 *   cache generation it was current at, for up to CHECKED_MEMO_MS, and the
 *   request's rate-limit decision checks that generation in its own round
 *   trip (server/ingest/rate-limit.ts, StaleTenant). A change invalidated
 *   after its commit moves the generation, so the next request's decision
 *   finds it stale, takes nothing, and the request reloads the tenant and is
 *   verified and decided again: the same "next request" guarantee, one
 *   round trip fewer. Without a generation (Redis unavailable) nothing is
 *   kept.
 * - The negative cache and the key memo live on globalThis: the production
 *   server's webhook fast path and the Next.js bundle load this module
 *   separately, and must share them.
 */
import type { KeyObject } from "node:crypto";
import { db } from "../db.ts";
import { env } from "../env.ts";
import { Cache } from "../cache/cache.ts";
import { keys } from "../keys.ts";
import { jitterDown, type Random } from "../lib/jitter.ts";
import { SLUG_PATTERN } from "../schemas/tenant.ts";
import { signingKey } from "./signature.ts";
import { secretKeyring } from "../secrets/keyring.ts";
import { open } from "../secrets/secret-box.ts";

export interface IngestTenant {
  id: number;
  slug: string;
  ratePerSecond: number;
  burst: number;
  dailyQuota: number | null;
  previousSecretExpiresAt: Date | null;
  /** The HMAC keys of the current and the previous secret, opened and decoded once per secret per process. */
  secretKey: KeyObject;
  previousSecretKey: KeyObject | null;
}

/** The HMAC keys that verify a signature at `now`: the current secret's, and the previous one's during its grace period. */
export function liveKeys(tenant: IngestTenant, now: Date): KeyObject[] {
  const previousIsLive = tenant.previousSecretKey !== null && tenant.previousSecretExpiresAt !== null && tenant.previousSecretExpiresAt > now;
  return previousIsLive && tenant.previousSecretKey ? [tenant.secretKey, tenant.previousSecretKey] : [tenant.secretKey];
}

const NEGATIVE_TTL_MS = 1_000;
/** Unknown slugs remembered at once, at most; beyond it the oldest is forgotten (a forgotten one costs one query). */
export const NEGATIVE_CACHE_MAX = 10_000;
/** A failed signature reloads the tenant at most this often per slug, in each process. */
export const REVALIDATE_AFTER_MS = 1_000;
/** Decoded keys kept per process, at most (a few per tenant); beyond it the oldest is decoded again when needed. */
const KEY_MEMO_MAX = 20_000;

/** The row as the shared cache holds it (JSON): the secrets as stored, sealed. */
type TenantRow = Omit<IngestTenant, "secretKey" | "previousSecretKey" | "previousSecretExpiresAt"> & {
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: string | null;
};

/** A tenant as read, with what its rate-limit decision must find still current. */
export interface CheckedTenant extends IngestTenant {
  generation: { key: string; expected: string };
}

/** How long a process keeps a tenant for findCheckedTenant: bounds what a change behind the cache's back (SQL) takes to be seen. */
export const CHECKED_MEMO_MS = 1_000;

interface LocalState {
  /** Unknown slugs and until when; insertion order is age order. */
  unknown: Map<string, number>;
  /** When each slug was last revalidated; insertion order is age order. */
  revalidated: Map<string, number>;
  /** HMAC keys by the sealed secret they were opened from. */
  keys: Map<string, KeyObject>;
  /** Sealed secrets opened so far (AES-GCM decryptions). */
  opened: number;
  /** findCheckedTenant's tenants and until when; insertion order is age order. */
  checked?: Map<string, { tenant: CheckedTenant; until: number }>;
  checkedFlights?: Map<string, Promise<IngestTenant | null>>;
}

const globalForTenants = globalThis as unknown as { tidemarkTenantLookup?: LocalState };
const local: LocalState = (globalForTenants.tidemarkTenantLookup ??= { unknown: new Map(), revalidated: new Map(), keys: new Map(), opened: 0 });
const checked = (local.checked ??= new Map());
const checkedFlights = (local.checkedFlights ??= new Map());

const tenants = new Cache<TenantRow | null>("tenant", { ttlMs: env.TENANT_CACHE_TTL_MS, staleMs: env.TENANT_CACHE_TTL_MS });

/** Sets `key` as the youngest entry of an age-ordered map, dropping the oldest beyond `max`. */
function rememberBounded<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) map.delete(map.keys().next().value as string);
}

/** True when `slug` could name a tenant at all; anything else is unknown without a query. */
export function isPossibleSlug(slug: string): boolean {
  return SLUG_PATTERN.test(slug);
}

async function loadRow(slug: string): Promise<TenantRow | null> {
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
  return row ? { ...row, previousSecretExpiresAt: row.previousSecretExpiresAt?.toISOString() ?? null } : null;
}

function keyOf(sealed: string): KeyObject {
  let key = local.keys.get(sealed);
  if (!key) {
    key = signingKey(open(secretKeyring(), "webhook-secret", sealed));
    local.opened++;
    rememberBounded(local.keys, sealed, key, KEY_MEMO_MAX);
  }
  return key;
}

/** How many sealed secrets this process has decrypted so far (once per secret, not per request). */
export function secretsOpened(): number {
  return local.opened;
}

function toTenant(row: TenantRow): IngestTenant {
  const { secret, previousSecret, previousSecretExpiresAt, ...rest } = row;
  return {
    ...rest,
    previousSecretExpiresAt: previousSecretExpiresAt === null ? null : new Date(previousSecretExpiresAt),
    secretKey: keyOf(secret),
    previousSecretKey: previousSecret ? keyOf(previousSecret) : null,
  };
}

export async function findIngestTenant(slug: string, random: Random = Math.random): Promise<IngestTenant | null> {
  if (!isPossibleSlug(slug)) return null;
  const unknownUntil = local.unknown.get(slug);
  if (unknownUntil !== undefined && unknownUntil > Date.now()) return null;
  const row = await tenants.getOrLoad(slug, () => loadRow(slug), { random });
  if (row) return toTenant(row);
  rememberBounded(local.unknown, slug, Date.now() + jitterDown(Math.min(NEGATIVE_TTL_MS, env.TENANT_CACHE_TTL_MS), 0.2, random), NEGATIVE_CACHE_MAX);
  return null;
}

async function loadChecked(slug: string, random: Random): Promise<IngestTenant | null> {
  const { value: row, generation } = await tenants.getOrLoadVersioned(slug, () => loadRow(slug), { random });
  if (!row) {
    rememberBounded(local.unknown, slug, Date.now() + jitterDown(Math.min(NEGATIVE_TTL_MS, env.TENANT_CACHE_TTL_MS), 0.2, random), NEGATIVE_CACHE_MAX);
    return null;
  }
  const tenant = toTenant(row);
  if (generation === null) return tenant;
  const entry: CheckedTenant = { ...tenant, generation: { key: keys.cacheGeneration(tenants.name, slug), expected: generation } };
  rememberBounded(
    checked,
    slug,
    { tenant: entry, until: Date.now() + jitterDown(Math.min(CHECKED_MEMO_MS, env.TENANT_CACHE_TTL_MS), 0.2, random) },
    NEGATIVE_CACHE_MAX,
  );
  return entry;
}

/** The tenant without the generation to check: its decision is then made whatever changed meanwhile. */
export function withoutCheck(tenant: IngestTenant): IngestTenant {
  const copy: IngestTenant & { generation?: CheckedTenant["generation"] } = { ...tenant };
  delete copy.generation;
  return copy;
}

/**
 * The tenant for a single-event webhook: like findIngestTenant, but possibly
 * this process's copy, whose `generation` (when present) the request's
 * rate-limit decision must check (see the header). `fresh` skips the copy:
 * for a request whose decision found it stale.
 */
export async function findCheckedTenant(slug: string, options: { fresh?: boolean; random?: Random } = {}): Promise<IngestTenant | CheckedTenant | null> {
  if (!isPossibleSlug(slug)) return null;
  const unknownUntil = local.unknown.get(slug);
  if (unknownUntil !== undefined && unknownUntil > Date.now()) return null;
  const memo = checked.get(slug);
  if (memo && !options.fresh && memo.until > Date.now()) return memo.tenant;
  if (options.fresh) checked.delete(slug);
  // Concurrent misses in this process share one read; a fresh read never joins one that may predate it.
  const shared = options.fresh ? undefined : checkedFlights.get(slug);
  if (shared) return shared;
  const own = loadChecked(slug, options.random ?? Math.random);
  if (!options.fresh) {
    checkedFlights.set(slug, own);
    const done = () => void (checkedFlights.get(slug) === own && checkedFlights.delete(slug));
    own.then(done, done);
  }
  return own;
}

/**
 * The tenant as the database has it now, for a signature that failed against
 * the cached secrets (they may have been changed behind the cache's back).
 * Reloads at most once per REVALIDATE_AFTER_MS per slug in this process;
 * otherwise returns what the cache has.
 */
export async function revalidateIngestTenant(slug: string, random: Random = Math.random): Promise<IngestTenant | null> {
  const last = local.revalidated.get(slug);
  if (last === undefined || Date.now() - last >= REVALIDATE_AFTER_MS) {
    rememberBounded(local.revalidated, slug, Date.now(), NEGATIVE_CACHE_MAX);
    await forgetTenant(slug);
  }
  return findIngestTenant(slug, random);
}

/** Drops the tenant's entry in every process; call after the commit that changed (or created) the tenant. */
export async function forgetTenant(slug: string): Promise<void> {
  local.unknown.delete(slug);
  checked.delete(slug);
  await tenants.invalidate(slug);
}

/** How many unknown slugs are remembered now (at most NEGATIVE_CACHE_MAX). */
export function unknownSlugsCached(): number {
  return local.unknown.size;
}
