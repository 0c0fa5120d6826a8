/**
 * Source administration (pull mode): set, read, pause, resume and remove a
 * tenant's source, for the admin CLI and the admin procedures, and the
 * one-line summary the overview badges show.
 *
 * Guarantees:
 * - What comes back never holds the token (only whether there is one).
 * - Setting a source with a different URL starts it from the new upstream's
 *   first page: the cursor is cleared and its version bumped in the same
 *   statement, so a page fetched from the old URL can no longer commit.
 * - Each change is one transaction on `sources` alone, and takes effect for
 *   the collector at its next read of the row (nothing is cached).
 */
import { pool, sql, transaction, type Queryable } from "../db.ts";
import { AppError } from "../errors.ts";
import { SOURCE_DEFAULTS, ZSetSourceInput, type TSetSourceInput } from "../schemas/source.ts";
import { HAS_TOKEN_SQL, writeSourceToken } from "./source-token.ts";

/** Why the next fetch waits beyond the interval (see the collector). */
export type WaitingFor = "backoff" | "quota" | "rate";

/**
 * A source as `source status` prints it. The first ten fields are the admin
 * CLI contract, in its order; times are ISO 8601 strings, null before the
 * first of their kind.
 */
export interface SourceStatus {
  tenant: string;
  url: string;
  /** The last committed next_cursor, exactly as the upstream sent it; null before the first page. */
  cursor: string | null;
  paused: boolean;
  lastFetchAt: string | null;
  lastSuccessAt: string | null;
  lastError: string | null;
  /** Failures since the last success (0 after one). */
  consecutiveFailures: number;
  eventsStored: number;
  pagesCommitted: number;
  itemUrl: string | null;
  intervalMs: number;
  pageSize: number;
  hasToken: boolean;
  /** When the next fetch is due; with waitingFor, why it is later than the interval. */
  nextFetchAt: string;
  waitingFor: WaitingFor | null;
  /** The last committed page said there is more. */
  hasMore: boolean;
  /** When the collector last reached the end of the upstream: everything it held when that fetch began is stored. */
  caughtUpAt: string | null;
  /** now − caughtUpAt (database clock), null before the first time. */
  lagMs: number | null;
  /** Events of committed pages that failed validation: counted and passed over, never stored. */
  eventsInvalid: number;
  lastInvalid: string | null;
}

interface StatusRow {
  slug: string;
  url: string;
  cursor: string | null;
  paused: boolean;
  last_fetch_at: Date | null;
  last_success_at: Date | null;
  last_error: string | null;
  consecutive_failures: number;
  events_stored: number;
  pages_committed: number;
  item_url: string | null;
  interval_ms: number;
  page_size: number;
  has_token: boolean;
  next_fetch_at: Date;
  waiting_for: WaitingFor | null;
  has_more: boolean;
  caught_up_at: Date | null;
  lag_ms: number | null;
  events_invalid: number;
  last_invalid: string | null;
}

const STATUS_COLUMNS = `
  t.slug, s.url, s.cursor, s.paused, s.last_fetch_at, s.last_success_at, s.last_error, s.consecutive_failures,
  s.events_stored, s.pages_committed, s.item_url, s.interval_ms, s.page_size, ${HAS_TOKEN_SQL} AS has_token,
  s.next_fetch_at, s.waiting_for, s.has_more, s.caught_up_at,
  (extract(epoch FROM now() - s.caught_up_at) * 1000)::float8 AS lag_ms,
  s.events_invalid, s.last_invalid`;

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

function toStatus(row: StatusRow): SourceStatus {
  return {
    tenant: row.slug,
    url: row.url,
    cursor: row.cursor,
    paused: row.paused,
    lastFetchAt: iso(row.last_fetch_at),
    lastSuccessAt: iso(row.last_success_at),
    lastError: row.last_error,
    consecutiveFailures: row.consecutive_failures,
    eventsStored: row.events_stored,
    pagesCommitted: row.pages_committed,
    itemUrl: row.item_url,
    intervalMs: row.interval_ms,
    pageSize: row.page_size,
    hasToken: row.has_token,
    nextFetchAt: row.next_fetch_at.toISOString(),
    waitingFor: row.waiting_for,
    hasMore: row.has_more,
    caughtUpAt: iso(row.caught_up_at),
    lagMs: row.lag_ms === null ? null : Math.max(0, Math.round(row.lag_ms)),
    eventsInvalid: row.events_invalid,
    lastInvalid: row.last_invalid,
  };
}

function noSource(slug: string): AppError {
  return new AppError("not_found", `tenant ${JSON.stringify(slug)} has no source; set one with \`source set\``);
}

async function readStatus(on: Queryable, tenantId: number): Promise<SourceStatus | null> {
  const rows = await sql<StatusRow>(on, `SELECT ${STATUS_COLUMNS} FROM sources s JOIN tenants t ON t.id = s.tenant_id WHERE s.tenant_id = $1`, [tenantId]);
  return rows[0] ? toStatus(rows[0]) : null;
}

export interface SourceTenant {
  id: number;
  slug: string;
}

/** The tenant's source, or null when it has none. */
export function sourceStatus(tenant: SourceTenant): Promise<SourceStatus | null> {
  return readStatus(pool, tenant.id);
}

/** The tenant's source; not_found when it has none. */
export async function requireSourceStatus(tenant: SourceTenant): Promise<SourceStatus> {
  const status = await sourceStatus(tenant);
  if (!status) throw noSource(tenant.slug);
  return status;
}

/** Creates or changes the tenant's source (see ZSetSourceInput for what an omitted field means). */
export async function setSource(tenant: SourceTenant, input: TSetSourceInput): Promise<SourceStatus> {
  const parsed = ZSetSourceInput.parse(input);
  return transaction(async (tx) => {
    // One statement: the insert or the update, with the cursor reset decided on the row as it is.
    await sql(
      tx,
      `INSERT INTO sources AS s (tenant_id, url, item_url, interval_ms, page_size)
       VALUES ($1, $2, $3::text, coalesce($5::int, $7::int), coalesce($6::int, $8::int))
       ON CONFLICT (tenant_id) DO UPDATE SET
         url = excluded.url,
         item_url = CASE WHEN $4::boolean THEN excluded.item_url ELSE s.item_url END,
         interval_ms = coalesce($5::int, s.interval_ms),
         page_size = coalesce($6::int, s.page_size),
         cursor = CASE WHEN s.url = excluded.url THEN s.cursor END,
         cursor_version = s.cursor_version + CASE WHEN s.url = excluded.url THEN 0 ELSE 1 END,
         has_more = CASE WHEN s.url = excluded.url THEN s.has_more ELSE false END,
         caught_up_at = CASE WHEN s.url = excluded.url THEN s.caught_up_at END,
         -- A changed source is tried at once rather than after a backoff or a quota wait.
         next_fetch_at = now(), waiting_for = NULL, updated_at = now()`,
      [
        tenant.id,
        parsed.url,
        parsed.itemUrl ?? null,
        parsed.itemUrl !== undefined,
        parsed.intervalMs ?? null,
        parsed.pageSize ?? null,
        SOURCE_DEFAULTS.intervalMs,
        SOURCE_DEFAULTS.pageSize,
      ],
    );
    if (parsed.token !== undefined) await writeSourceToken(tx, tenant.id, parsed.token);
    return (await readStatus(tx, tenant.id)) as SourceStatus;
  });
}

async function setPaused(tenant: SourceTenant, paused: boolean): Promise<SourceStatus> {
  // Resuming makes the source due at once: a paused source has no backoff left to wait out.
  const rows = await sql(
    pool,
    `UPDATE sources SET paused = $2, updated_at = now(),
            next_fetch_at = CASE WHEN $2::boolean THEN next_fetch_at ELSE now() END,
            waiting_for = CASE WHEN $2::boolean THEN waiting_for END
      WHERE tenant_id = $1 RETURNING 1`,
    [tenant.id, paused],
  );
  if (rows.length === 0) throw noSource(tenant.slug);
  return requireSourceStatus(tenant);
}

/** Stops collecting before the next fetch; a page already fetched may still commit. */
export function pauseSource(tenant: SourceTenant): Promise<SourceStatus> {
  return setPaused(tenant, true);
}

export function resumeSource(tenant: SourceTenant): Promise<SourceStatus> {
  return setPaused(tenant, false);
}

/** Removes the source and its cursor; the events it stored stay. A page in flight can no longer commit. */
export async function removeSource(tenant: SourceTenant): Promise<{ tenant: string; removed: true }> {
  const rows = await sql(pool, "DELETE FROM sources WHERE tenant_id = $1 RETURNING 1", [tenant.id]);
  if (rows.length === 0) throw noSource(tenant.slug);
  return { tenant: tenant.slug, removed: true };
}

/** The overview badge of a tenant's source: a tone, a short label, and why. */
export interface SourceSummary {
  tone: "ok" | "info" | "warn" | "bad" | "neutral";
  label: string;
  reason: string;
}

/** Failures in a row from which a source counts as down rather than flaky. */
const FAILING_BAD_AFTER = 3;

export function judgeSource(
  status: Pick<SourceStatus, "paused" | "consecutiveFailures" | "lastError" | "waitingFor" | "nextFetchAt" | "hasMore" | "lastSuccessAt">,
): SourceSummary {
  if (status.paused) return { tone: "neutral", label: "Source paused", reason: "pull mode is paused; resume it on the admin page" };
  if (status.consecutiveFailures > 0) {
    return {
      tone: status.consecutiveFailures >= FAILING_BAD_AFTER ? "bad" : "warn",
      label: "Source failing",
      reason: `${status.consecutiveFailures} failure${status.consecutiveFailures === 1 ? "" : "s"} in a row: ${status.lastError ?? "unknown error"}; next try ${status.nextFetchAt}`,
    };
  }
  if (status.waitingFor === "quota") return { tone: "warn", label: "Over quota", reason: `daily quota reached; pulling resumes at ${status.nextFetchAt}` };
  if (status.waitingFor === "rate")
    return { tone: "info", label: "Rate-limited", reason: `pulling at the tenant's rate limit; next page at ${status.nextFetchAt}` };
  if (status.lastSuccessAt === null) return { tone: "info", label: "Source new", reason: "no page fetched yet" };
  if (status.hasMore) return { tone: "info", label: "Catching up", reason: "the source has more pages; pulling them now" };
  return { tone: "ok", label: "Pulling", reason: "the source is up to date" };
}

/** The badge of each of `tenantIds` that has a source. */
export async function sourceSummaries(tenantIds: readonly number[]): Promise<Map<number, SourceSummary>> {
  if (tenantIds.length === 0) return new Map();
  const rows = await sql<{
    tenant_id: number;
    paused: boolean;
    consecutive_failures: number;
    last_error: string | null;
    waiting_for: WaitingFor | null;
    next_fetch_at: Date;
    has_more: boolean;
    last_success_at: Date | null;
  }>(
    pool,
    `SELECT tenant_id, paused, consecutive_failures, last_error, waiting_for, next_fetch_at, has_more, last_success_at
       FROM sources WHERE tenant_id = ANY($1::int[])`,
    [[...tenantIds]],
  );
  return new Map(
    rows.map((row) => [
      row.tenant_id,
      judgeSource({
        paused: row.paused,
        consecutiveFailures: row.consecutive_failures,
        lastError: row.last_error,
        waitingFor: row.waiting_for,
        nextFetchAt: row.next_fetch_at.toISOString(),
        hasMore: row.has_more,
        lastSuccessAt: iso(row.last_success_at),
      }),
    ]),
  );
}
