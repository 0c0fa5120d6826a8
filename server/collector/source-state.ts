/**
 * Every statement the collector runs on a source's row: take the lease,
 * renew it and read the cursor, commit a page, record a failure or a wait,
 * give the lease back.
 *
 * The invariant (docs/design.md, "Pull mode"): the cursor lives only in this
 * row. A page's events enter the inbox in the same transaction that moves the
 * cursor past them, and that move is a compare-and-set on `cursor_version`
 * as it was read, in the same statement as the cursor, before the fetch. So
 * a page is committed at most once per cursor value, a page is never skipped
 * (the cursor only ever becomes the next_cursor of a page that committed
 * with it), and a collector that lost the race (another committed first, the
 * URL changed, the source was removed) stores nothing.
 *
 * The lease: one collector at a time holds a source (`lease_owner`,
 * `lease_until`), and every statement of the holder is fenced by
 * `lease_token`, which each new holder increments. A holder that stalled past
 * its lease and was replaced therefore writes nothing, not even its failures.
 * No transaction is open while a page is fetched: the lease is a row, renewed
 * before each fetch and by each commit.
 *
 * Lock order (server/core/lock-order.ts): a page's transaction locks its
 * `sources` row (the compare-and-set), then inserts into `events`, then adds
 * to `rollup_counts`. Every other statement here is a single statement on
 * `sources` alone.
 */
import { pool, sql, statement, transaction, type TransactionOptions } from "../db.ts";
import { lockSteps } from "../core/lock-order.ts";
import { storeEvents, type StoreOutcome } from "../ingest/store-events.ts";
import type { ValidEvent } from "../ingest/envelope.ts";
import { recordWebhookAnswers, type WebhookAnswerCount } from "../stats/rollups.ts";
import type { WaitingFor } from "./sources.ts";

/** A held lease: the fencing token every later statement must present. */
export interface Lease {
  tenantId: number;
  token: number;
}

/** What the holder read before a fetch: the cursor and its version, the source's settings, the tenant's quotas. */
export interface CursorRead {
  tenantId: number;
  /** The tenant's slug: the source's name in metrics. */
  slug: string;
  url: string;
  cursor: string | null;
  cursorVersion: number;
  pageSize: number;
  intervalMs: number;
  consecutiveFailures: number;
  ratePerSecond: number;
  burst: number;
  dailyQuota: number | null;
}

const ACQUIRE = statement(
  "source_acquire",
  `
UPDATE sources s
   SET lease_owner = $1, lease_until = now() + $2 * interval '1 millisecond', lease_token = s.lease_token + 1
 WHERE s.tenant_id = (
         SELECT c.tenant_id FROM sources c
          WHERE NOT c.paused AND c.next_fetch_at <= now() AND (c.lease_until IS NULL OR c.lease_until < now())
          ORDER BY c.next_fetch_at, c.tenant_id
          LIMIT 1
            FOR UPDATE SKIP LOCKED)
RETURNING s.tenant_id, s.lease_token`,
);

/**
 * Leases the most overdue source that nobody holds, or returns null. Taking
 * the most overdue first is the fairness between sources: a source that
 * still has pages after its turn is due again at once, but behind every
 * source that was due before it.
 */
export async function acquireLease(owner: string, leaseMs: number): Promise<Lease | null> {
  const rows = await sql<{ tenant_id: number; lease_token: number }>(pool, ACQUIRE, [owner, leaseMs]);
  const row = rows[0];
  return row ? { tenantId: row.tenant_id, token: row.lease_token } : null;
}

const NEXT_DUE = statement(
  "source_next_due",
  `
SELECT (extract(epoch FROM min(greatest(next_fetch_at, coalesce(lease_until, next_fetch_at))) - now()) * 1000)::float8 AS ms
  FROM sources WHERE NOT paused`,
);

/** Milliseconds until some source may be due (negative: now), or null when there is none. */
export async function msUntilNextDue(): Promise<number | null> {
  const rows = await sql<{ ms: number | null }>(pool, NEXT_DUE);
  return rows[0]?.ms ?? null;
}

const RENEW_AND_READ = statement(
  "source_renew_and_read",
  `
UPDATE sources s SET lease_until = now() + $3 * interval '1 millisecond'
  FROM tenants t
 WHERE s.tenant_id = $1 AND s.lease_token = $2 AND NOT s.paused AND t.id = s.tenant_id
RETURNING s.url, s.cursor, s.cursor_version, s.page_size, s.interval_ms, s.consecutive_failures,
          t.rate_per_second, t.burst, t.daily_quota, t.slug`,
);

/**
 * Renews the lease and reads the cursor in one statement, from the row
 * itself: every fetch starts from what is committed. Null when the lease was
 * taken over, or the source paused or removed: the turn ends.
 */
export async function renewAndRead(lease: Lease, leaseMs: number): Promise<CursorRead | null> {
  const rows = await sql<{
    url: string;
    cursor: string | null;
    cursor_version: number;
    page_size: number;
    interval_ms: number;
    consecutive_failures: number;
    rate_per_second: number;
    burst: number;
    daily_quota: number | null;
    slug: string;
  }>(pool, RENEW_AND_READ, [lease.tenantId, lease.token, leaseMs]);
  const row = rows[0];
  if (!row) return null;
  return {
    tenantId: lease.tenantId,
    slug: row.slug,
    url: row.url,
    cursor: row.cursor,
    cursorVersion: row.cursor_version,
    pageSize: row.page_size,
    intervalMs: row.interval_ms,
    consecutiveFailures: row.consecutive_failures,
    ratePerSecond: row.rate_per_second,
    burst: row.burst,
    dailyQuota: row.daily_quota,
  };
}

export interface InvalidPulledEvent {
  /** The event's id when it had a valid one. */
  id: string | null;
  message: string;
}

export interface PageToCommit {
  /** The cursor after this page: the upstream's next_cursor, or the cursor read when it sent none. */
  nextCursor: string | null;
  hasMore: boolean;
  events: readonly ValidEvent[];
  invalid: readonly InvalidPulledEvent[];
  fetchStartedAt: Date;
}

export type CommitResult = { committed: false } | { committed: true; outcomes: StoreOutcome[] };

const ADVANCE = statement(
  "source_advance",
  `
UPDATE sources
   SET cursor = $4, cursor_version = cursor_version + 1, has_more = $5, pages_committed = pages_committed + 1,
       last_fetch_at = $6, last_success_at = now(), last_error = NULL, consecutive_failures = 0, waiting_for = NULL,
       caught_up_at = CASE WHEN $5 THEN caught_up_at ELSE $6 END,
       next_fetch_at = CASE WHEN $5 THEN now() ELSE now() + interval_ms * interval '1 millisecond' END,
       lease_until = now() + $7 * interval '1 millisecond', updated_at = now()
 WHERE tenant_id = $1 AND lease_token = $2 AND cursor_version = $3
RETURNING 1`,
);

const COUNT_PAGE = statement(
  "source_count_page",
  `
UPDATE sources
   SET events_stored = events_stored + $2, events_invalid = events_invalid + $3, last_invalid = coalesce($4, last_invalid)
 WHERE tenant_id = $1`,
);

/**
 * Commits a fetched page: the cursor moves from the version read before the
 * fetch to the page's next cursor, and the page's valid events go into the
 * inbox (same dedupe and outcomes as a webhook batch), in one transaction.
 * If the version is no longer the one read, or the lease is no longer ours,
 * nothing is written.
 */
export async function commitPage(lease: Lease, read: CursorRead, page: PageToCommit, leaseMs: number, options: TransactionOptions = {}): Promise<CommitResult> {
  return transaction(async (tx) => {
    const steps = lockSteps(tx);
    steps.enter("sources");
    const advanced = await sql(tx, ADVANCE, [lease.tenantId, lease.token, read.cursorVersion, page.nextCursor, page.hasMore, page.fetchStartedAt, leaseMs]);
    if (advanced.length === 0) return { committed: false };

    steps.enter("events");
    const outcomes = await storeEvents(lease.tenantId, page.events, tx);
    const accepted = outcomes.filter((outcome) => outcome === "accepted").length;
    const lastInvalid = page.invalid.at(-1);
    // The row is already locked by ADVANCE above: this second write takes no new lock, so it
    // does not step back in the lock order (and is not announced to the guard).
    await sql(tx, COUNT_PAGE, [
      lease.tenantId,
      accepted,
      page.invalid.length,
      lastInvalid ? `${lastInvalid.id === null ? "an event without a valid id" : `event ${JSON.stringify(lastInvalid.id)}`}: ${lastInvalid.message}` : null,
    ]);

    // The dashboard counts pulled repeats, conflicts and invalid events as it counts a batch's,
    // here in the page's own transaction, so each is counted exactly once.
    const at = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    const counted: WebhookAnswerCount[] = [
      { tenantId: lease.tenantId, at, answer: "redelivered", count: outcomes.filter((outcome) => outcome === "duplicate").length },
      { tenantId: lease.tenantId, at, answer: "conflicts", count: outcomes.filter((outcome) => outcome === "conflict").length },
      { tenantId: lease.tenantId, at, answer: "invalid", count: page.invalid.length },
    ];
    const answers = counted.filter((answer) => answer.count > 0);
    if (answers.length > 0) await recordWebhookAnswers(tx, answers);
    return { committed: true, outcomes };
  }, options);
}

const CAUGHT_UP = statement(
  "source_caught_up",
  `
UPDATE sources
   SET last_fetch_at = $4, last_success_at = now(), last_error = NULL, consecutive_failures = 0, waiting_for = NULL,
       has_more = false, caught_up_at = $4, next_fetch_at = now() + interval_ms * interval '1 millisecond', updated_at = now()
 WHERE tenant_id = $1 AND lease_token = $2 AND cursor_version = $3
RETURNING 1`,
);

/**
 * Records a fetch that found nothing new (no events, the same cursor, no
 * more pages): a success that commits no page. Guarded like a commit, so
 * "caught up" is only ever said of the cursor that was fetched.
 */
export async function recordCaughtUp(lease: Lease, read: CursorRead, fetchStartedAt: Date): Promise<boolean> {
  return (await sql(pool, CAUGHT_UP, [lease.tenantId, lease.token, read.cursorVersion, fetchStartedAt])).length > 0;
}

const FAILED = statement(
  "source_failed",
  `
UPDATE sources
   SET last_fetch_at = $3, last_error = $4, consecutive_failures = consecutive_failures + 1, waiting_for = 'backoff',
       next_fetch_at = now() + $5 * interval '1 millisecond', updated_at = now()
 WHERE tenant_id = $1 AND lease_token = $2`,
);

/** Records a failed fetch (nothing stored, the cursor unchanged) and when to try again. */
export async function recordFailure(lease: Lease, fetchStartedAt: Date, error: string, retryInMs: number): Promise<void> {
  await sql(pool, FAILED, [lease.tenantId, lease.token, fetchStartedAt, error, Math.round(retryInMs)]);
}

const WAITING = statement(
  "source_waiting",
  `
UPDATE sources SET last_fetch_at = $3, waiting_for = $4, next_fetch_at = $5, updated_at = now()
 WHERE tenant_id = $1 AND lease_token = $2`,
);

/** Records a page that was fetched but not stored because the tenant is over its quota or rate: not a failure. */
export async function recordWait(lease: Lease, fetchStartedAt: Date, reason: Exclude<WaitingFor, "backoff">, until: Date): Promise<void> {
  await sql(pool, WAITING, [lease.tenantId, lease.token, fetchStartedAt, reason, until]);
}

const RELEASE = statement("source_release", "UPDATE sources SET lease_owner = NULL, lease_until = NULL WHERE tenant_id = $1 AND lease_token = $2");

/** Gives the lease back at the end of a turn, so any collector may take the source when it is next due. */
export async function releaseLease(lease: Lease): Promise<void> {
  await sql(pool, RELEASE, [lease.tenantId, lease.token]);
}
