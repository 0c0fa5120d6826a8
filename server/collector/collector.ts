/**
 * The collector (pull mode): `concurrency` loops that each lease a due
 * source, fetch its pages and commit each page's events with the cursor
 * after them, then give the source back.
 *
 * The invariant: the cursor lives only in PostgreSQL. Each page starts by
 * reading the committed cursor (renewAndRead) and ends by a compare-and-set
 * on the version it read, in the transaction that stores the page's events
 * (commitPage, source-state.ts). Nothing here keeps a cursor between pages,
 * so a process can die at any line, and a second collector can race the
 * first, without a page being skipped or committed twice. (`cursorCache`
 * exists only so that a test can build the classic bug and show that the
 * race test catches it; production never sets it.)
 *
 * Lock order: see source-state.ts (sources → events → rollup_counts, in one
 * transaction per page). No transaction is open during a fetch.
 *
 * One collector per source at a time, across every process: the lease, with
 * a fencing token on every write. A collector killed mid-page leaves its
 * lease to expire (COLLECTOR_LEASE_MS) and the next collector to poll takes
 * the source over from its committed cursor.
 *
 * Scheduling: a source is due every `intervalMs` and at once again while
 * the upstream says has_more, but one turn takes at most `pagesPerTurn`
 * pages; after that the source goes back behind every source that was due
 * before it, so a whale upstream cannot starve the others' polls.
 *
 * Failures of the source (non-2xx, timeout, malformed or oversized page,
 * stuck cursor) are recorded on the row and the source backs off
 * exponentially with full jitter from the injected random source; the next
 * success resets them. Over the tenant's daily quota, the page is dropped
 * unstored and the source waits for the next UTC day (waitingFor "quota");
 * over its rate, for the Retry-After. Pulled events count toward both,
 * exactly as a batch of the same events would.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { pool } from "../db.ts";
import { env } from "../env.ts";
import { AppError } from "../errors.ts";
import { admit } from "../ingest/rate-limit.ts";
import { MS_PER_DAY, utcDay } from "../keys.ts";
import { fullJitterBackoff, type Random } from "../lib/jitter.ts";
import { signalNewEvents } from "../lib/wake.ts";
import { log, throttledLogger } from "../log.ts";
import { metrics } from "../metrics.ts";
import type { SharedStore } from "../redis.ts";
import { fetchPage, PageFailure, type FetchedPage } from "./page.ts";
import { readSourceToken } from "./source-token.ts";
import {
  acquireLease,
  commitPage,
  msUntilNextDue,
  recordCaughtUp,
  recordFailure,
  recordWait,
  releaseLease,
  renewAndRead,
  type CursorRead,
  type Lease,
} from "./source-state.ts";

/** The dirty-read control's seam (tests only): a per-process memory of each source's cursor. */
export interface CursorCache {
  has(tenantId: number): boolean;
  get(tenantId: number): string | null | undefined;
  set(tenantId: number, cursor: string | null): void;
}

export interface CollectorOptions {
  /** Loops in this process; each holds at most one source at a time. */
  concurrency: number;
  fetchTimeoutMs: number;
  /** Must exceed fetchTimeoutMs: the lease is renewed before each fetch. */
  leaseMs: number;
  maxPageBytes: number;
  /** Most pages of one source per turn. */
  pagesPerTurn: number;
  /** How often an idle loop looks for a due source, at most. */
  pollMs: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  /** A pause after each turn, so that collectors of other processes get turns too (tests use it to make them alternate). */
  turnPauseMs?: number;
  random?: Random;
  /** Where rate and quota are decided (default: the process's shared store). */
  store?: SharedStore;
  /** Tests only: see CursorCache. */
  cursorCache?: CursorCache;
}

export const PAGES_PER_TURN = 10;
const POLL_MS = 1_000;
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_CAP_MS = 5 * 60_000;
/** After midnight UTC, a quota wait ends at a random moment within this, so sources do not all fetch at 00:00:00. */
const QUOTA_RESUME_SPREAD_MS = 60_000;

export function collectorOptionsFromEnv(): CollectorOptions {
  return {
    concurrency: env.COLLECTOR_CONCURRENCY,
    fetchTimeoutMs: env.COLLECTOR_FETCH_TIMEOUT_MS,
    leaseMs: env.COLLECTOR_LEASE_MS,
    maxPageBytes: env.COLLECTOR_MAX_PAGE_BYTES,
    pagesPerTurn: PAGES_PER_TURN,
    pollMs: POLL_MS,
    backoffBaseMs: BACKOFF_BASE_MS,
    backoffCapMs: BACKOFF_CAP_MS,
  };
}

const logThrottled = throttledLogger(10_000);

export class Collector {
  /** This collector's name in `lease_owner`: host, pid and a random tag, so two collectors of one process differ. */
  readonly owner = `${hostname()}:${process.pid}:collector-${randomBytes(4).toString("hex")}`;
  private stopping = false;
  private readonly abort = new AbortController();
  private readonly sleepers = new Set<() => void>();
  private loops: Promise<void>[] = [];
  private readonly random: Random;

  constructor(private readonly options: CollectorOptions) {
    if (options.leaseMs <= options.fetchTimeoutMs)
      throw new Error(`the collector's lease (${options.leaseMs} ms) must exceed its fetch timeout (${options.fetchTimeoutMs} ms)`);
    this.random = options.random ?? Math.random;
  }

  start(): void {
    this.loops = Array.from({ length: this.options.concurrency }, (_, slot) => this.runLoop(slot));
    log.info({ module: "collector", concurrency: this.options.concurrency, owner: this.owner }, "collector started");
  }

  /** Stops taking sources and aborts fetches in flight; waits up to `graceMs` for the loops to give their sources back. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.abort.abort();
    for (const wake of this.sleepers) wake();
    this.sleepers.clear();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.all(this.loops), grace]);
    clearTimeout(timer);
    log.info({ module: "collector" }, "collector stopped");
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.sleepers.add(done);
    });
  }

  private async runLoop(slot: number): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        const lease = await acquireLease(this.owner, this.options.leaseMs);
        failures = 0;
        if (!lease) {
          const due = await msUntilNextDue();
          await this.sleep(due === null ? this.options.pollMs : Math.min(this.options.pollMs, Math.max(10, due)));
          continue;
        }
        try {
          await this.runTurn(lease);
        } finally {
          await releaseLease(lease).catch((error: Error) =>
            log.warn({ module: "collector", tenantId: lease.tenantId, err: error.message }, "could not release a source; its lease will expire"),
          );
        }
        if (this.options.turnPauseMs) await this.sleep(this.options.turnPauseMs);
      } catch (error) {
        // Tidemark's own trouble (the database), not the source's: nothing is recorded on the source.
        failures++;
        logThrottled(`loop-${slot}`, () => log.warn({ module: "collector", err: (error as Error).message }, "collector loop failed; backing off"));
        await this.sleep(fullJitterBackoff(failures, 100, 5_000, this.random));
      }
    }
  }

  /** Up to pagesPerTurn pages of one source, each read, fetched and committed afresh. */
  private async runTurn(lease: Lease): Promise<void> {
    for (let page = 0; page < this.options.pagesPerTurn && !this.stopping; page++) {
      const read = await renewAndRead(lease, this.options.leaseMs);
      if (!read) return;
      const more = await this.collectPage(lease, read);
      if (!more) return;
    }
  }

  /** One page; resolves true when the turn may go on to the next one. */
  private async collectPage(lease: Lease, read: CursorRead): Promise<boolean> {
    const cache = this.options.cursorCache;
    const cursor = cache?.has(read.tenantId) ? (cache.get(read.tenantId) ?? null) : read.cursor;
    const token = await readSourceToken(pool, read.tenantId);
    const fetchStartedAt = new Date();
    const source = metrics.sourceLabel.of(read.slug);
    const stopTimer = metrics.collectorFetchSeconds.startTimer();
    let page: FetchedPage;
    try {
      page = await fetchPage({
        url: read.url,
        cursor,
        limit: read.pageSize,
        token,
        timeoutMs: this.options.fetchTimeoutMs,
        maxBytes: this.options.maxPageBytes,
        signal: this.abort.signal,
      });
    } catch (error) {
      stopTimer();
      if (!(error instanceof PageFailure)) throw error;
      if (this.stopping) return false;
      metrics.collectorFetches.inc({ tenant: source, result: error.kind });
      const retryInMs = fullJitterBackoff(read.consecutiveFailures, this.options.backoffBaseMs, this.options.backoffCapMs, this.random);
      await recordFailure(lease, fetchStartedAt, error.message, retryInMs);
      logThrottled(`fetch-${read.tenantId}`, () =>
        log.warn(
          { module: "collector", tenantId: read.tenantId, kind: error.kind, err: error.message, retryInMs: Math.round(retryInMs) },
          "source fetch failed; backing off",
        ),
      );
      return false;
    }
    stopTimer();
    metrics.collectorFetches.inc({ tenant: source, result: "ok" });

    const nextCursor = page.nextCursor ?? cursor;
    if (page.events.length === 0 && page.invalid.length === 0 && nextCursor === cursor && !page.hasMore) {
      await recordCaughtUp(lease, read, fetchStartedAt);
      return false;
    }

    if (page.events.length > 0 && !(await this.admitted(lease, read, page.events.length, fetchStartedAt))) return false;

    const result = await commitPage(
      lease,
      read,
      { nextCursor, hasMore: page.hasMore, events: page.events, invalid: page.invalid, fetchStartedAt },
      this.options.leaseMs,
    );
    if (!result.committed) {
      // Someone moved the cursor (a takeover, a new URL) or removed the source: this page is not ours to
      // store. Read again: the next renewAndRead sees what is committed, or ends the turn.
      metrics.collectorLostCommits.inc();
      log.info({ module: "collector", tenantId: read.tenantId }, "the cursor changed during the fetch; nothing stored, reading it again");
      return true;
    }
    cache?.set(read.tenantId, nextCursor);
    const accepted = result.outcomes.filter((outcome) => outcome === "accepted").length;
    metrics.collectorPagesCommitted.inc({ tenant: source });
    metrics.collectorEventsStored.inc({ tenant: source }, accepted);
    if (accepted > 0) signalNewEvents();
    return page.hasMore;
  }

  /** Spends the tenant's rate and quota on a page; false (and the wait recorded) when it may not be stored now. */
  private async admitted(lease: Lease, read: CursorRead, cost: number, fetchStartedAt: Date): Promise<boolean> {
    try {
      await admit({ id: read.tenantId, ratePerSecond: read.ratePerSecond, burst: read.burst, dailyQuota: read.dailyQuota }, cost, {
        random: this.random,
        store: this.options.store,
      });
      return true;
    } catch (error) {
      if (!(error instanceof AppError) || (error.code !== "quota_exceeded" && error.code !== "rate_limited")) throw error;
      const now = Date.now();
      if (error.code === "quota_exceeded") {
        const until = new Date((utcDay(now) + 1) * MS_PER_DAY + this.random() * QUOTA_RESUME_SPREAD_MS);
        await recordWait(lease, fetchStartedAt, "quota", until);
        logThrottled(`quota-${read.tenantId}`, () =>
          log.warn(
            { module: "collector", tenantId: read.tenantId, until: until.toISOString() },
            "tenant over its daily quota; the source waits for the next UTC day",
          ),
        );
      } else {
        await recordWait(lease, fetchStartedAt, "rate", new Date(now + (error.extra.retryAfterSeconds ?? 1) * 1_000));
      }
      return false;
    }
  }
}
