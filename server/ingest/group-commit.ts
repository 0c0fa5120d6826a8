/**
 * Group commit of single-event webhooks: concurrent requests share one
 * INSERT, so the database commits (and flushes its WAL) once per group
 * instead of once per event.
 *
 * A request joins the open group; the group closes when it holds
 * WEBHOOK_GROUP_MAX_EVENTS events or WEBHOOK_GROUP_COMMIT_MS after its first
 * request (0: at the end of the event loop's current turn). At most
 * `maxInFlight` groups commit at once; events of groups that closed while
 * every slot was busy are committed together when a slot frees, up to the
 * same maximum.
 *
 * Invariants:
 * 1. Never an answer before the commit: a request's promise resolves only
 *    after the INSERT holding its row has committed (one statement on the
 *    pool in autocommit, so one transaction), and for a key that was already
 *    there, after the stored hash has been read.
 * 2. The same answers as one request at a time: a group is stored by the
 *    same code as a batch (server/ingest/store-events.ts), where the first
 *    request for a (tenant, event id) in the group is the one that may be
 *    accepted and later ones in the group are duplicate or conflict by
 *    payload hash, exactly as if they had been posted one after another in
 *    arrival order.
 * 3. One event's failure fails only that event: if the INSERT fails for a
 *    reason other than the database being unavailable (a row PostgreSQL
 *    refuses), the group is stored again one event at a time, in arrival
 *    order, and each request gets its own outcome or its own error.
 * 4. A lost connection fails only its group: if the database is unavailable
 *    the INSERT's requests are refused with that error (503 at the edge) and
 *    none is acknowledged; if only the hash lookup after a committed INSERT
 *    fails, the inserted events are still accepted (they are committed) and
 *    the others are refused.
 * 5. Rows are inserted in (tenant, event id) order (store-events.ts), so
 *    concurrent groups and batches cannot deadlock.
 * 6. Bounded: at most `maxQueued` events wait for a commit (open or closed
 *    groups); one more is refused at once as the database being unavailable
 *    (503), so a stalled database does not grow the queue without bound.
 *
 * The committer lives on globalThis: the fast path and the Next.js bundle
 * load this module separately, and should fill the same groups.
 */
import { DatabaseUnavailableError, isDatabaseUnavailable } from "../errors.ts";
import { env } from "../env.ts";
import type { ValidEvent } from "./envelope.ts";
import { firstOccurrences, insertNew, keyOf, outcomesOf, storedHashes, storeRows, type StoreOutcome, type StoreRow } from "./store-events.ts";

export interface GroupCommitOptions {
  /** How long the open group waits for more requests after its first; 0: the end of this event-loop turn. */
  maxWaitMs: number;
  /** A group closes at once when it holds this many events. */
  maxEvents: number;
  /** Groups committing at once, at most (each holds a pool connection while it commits). */
  maxInFlight: number;
  /** Events waiting for a commit, at most; beyond it a request is refused at once (unbounded if omitted). */
  maxQueued?: number;
}

interface Pending {
  row: StoreRow;
  resolve(outcome: StoreOutcome): void;
  reject(error: unknown): void;
}

export interface GroupCommitStats {
  groups: number;
  events: number;
  largestGroup: number;
  /** Groups stored again one event at a time after a row failed. */
  splits: number;
}

export class GroupCommitter {
  private open: Pending[] = [];
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  /** Closed groups' requests waiting for a commit slot, in arrival order. */
  private ready: Pending[] = [];
  private inFlight = 0;
  private readonly idleWaiters: (() => void)[] = [];
  readonly stats: GroupCommitStats = { groups: 0, events: 0, largestGroup: 0, splits: 0 };

  constructor(private readonly options: GroupCommitOptions) {}

  /** Stores one event with whatever else is waiting; resolves with its outcome after the commit. */
  store(tenantId: number, event: ValidEvent): Promise<StoreOutcome> {
    if (this.options.maxQueued !== undefined && this.open.length + this.ready.length >= this.options.maxQueued) {
      return Promise.reject(new DatabaseUnavailableError(`${this.options.maxQueued} events already wait for a commit`));
    }
    return new Promise<StoreOutcome>((resolve, reject) => {
      this.open.push({ row: { tenantId, event }, resolve, reject });
      if (this.open.length >= this.options.maxEvents) this.close();
      else if (this.timer === undefined) this.schedule();
    });
  }

  /** Resolves once no group is open, waiting or committing (tests, shutdown). */
  async idle(): Promise<void> {
    if (this.isIdle()) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.open.length === 0 && this.ready.length === 0 && this.inFlight === 0;
  }

  private schedule(): void {
    const fire = () => {
      this.timer = undefined;
      this.close();
    };
    this.timer = this.options.maxWaitMs === 0 ? setImmediate(fire) : setTimeout(fire, this.options.maxWaitMs);
  }

  private close(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = undefined;
    }
    if (this.open.length === 0) return;
    for (const pending of this.open) this.ready.push(pending);
    this.open = [];
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.ready.length > 0) {
      const group = this.ready.splice(0, this.options.maxEvents);
      this.inFlight++;
      void this.commit(group).finally(() => {
        this.inFlight--;
        this.pump();
        if (this.isIdle()) for (const wake of this.idleWaiters.splice(0)) wake();
      });
    }
  }

  /** Settles every request of `group`; never rejects. */
  private async commit(group: Pending[]): Promise<void> {
    this.stats.groups++;
    this.stats.events += group.length;
    this.stats.largestGroup = Math.max(this.stats.largestGroup, group.length);
    const rows = group.map((pending) => pending.row);
    const firstByKey = firstOccurrences(rows);
    const unique = [...firstByKey.values()];

    let insertedKeys: Set<string>;
    try {
      insertedKeys = await insertNew(unique);
    } catch (error) {
      if (isDatabaseUnavailable(error) || group.length === 1) {
        for (const pending of group) pending.reject(error);
        return;
      }
      await this.storeOneByOne(group);
      return;
    }

    const existing = unique.filter((row) => !insertedKeys.has(keyOf(row.tenantId, row.event.eventId)));
    let hashes: Map<string, string>;
    try {
      hashes = await storedHashes(existing);
    } catch (error) {
      // The INSERT committed: its own rows are accepted; only the answers that needed the lookup fail.
      const seen = new Set<string>();
      for (const pending of group) {
        const key = keyOf(pending.row.tenantId, pending.row.event.eventId);
        if (insertedKeys.has(key) && !seen.has(key)) pending.resolve("accepted");
        else pending.reject(error);
        seen.add(key);
      }
      return;
    }
    const outcomes = outcomesOf(rows, firstByKey, insertedKeys, hashes);
    group.forEach((pending, i) => pending.resolve(outcomes[i] as StoreOutcome));
  }

  /** After a row failed the group's INSERT: each event alone, in arrival order, so repeats still see their first. */
  private async storeOneByOne(group: Pending[]): Promise<void> {
    this.stats.splits++;
    for (const pending of group) {
      try {
        const [outcome] = await storeRows([pending.row]);
        pending.resolve(outcome as StoreOutcome);
      } catch (error) {
        pending.reject(error);
      }
    }
  }
}

export function groupCommitOptionsFromEnv(): GroupCommitOptions {
  // Half the pool: the rest stays free for tenant lookups, the in-app workers and the batch endpoint.
  const maxInFlight = Math.max(1, Math.floor(env.DATABASE_POOL_SIZE / 2));
  return {
    maxWaitMs: env.WEBHOOK_GROUP_COMMIT_MS,
    maxEvents: env.WEBHOOK_GROUP_MAX_EVENTS,
    maxInFlight,
    // Ten rounds of full groups in every slot: far above any healthy queue, small enough to hold in memory.
    maxQueued: 10 * maxInFlight * env.WEBHOOK_GROUP_MAX_EVENTS,
  };
}

const globalForGroups = globalThis as unknown as { tidemarkGroupCommitter?: GroupCommitter };

/** The process's committer for single-event webhooks. */
export function groupCommitter(): GroupCommitter {
  return (globalForGroups.tidemarkGroupCommitter ??= new GroupCommitter(groupCommitOptionsFromEnv()));
}
