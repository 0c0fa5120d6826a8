/**
 * Retention: what is forgotten, and when (docs/design.md, "Retention").
 *
 * Guarantees:
 * - A processed event's raw row (status done) is removed once it was received
 *   more than the tenant's retention_days ago. Pending, processing and dead
 *   events are never removed (dead ones wait to be replayed). Rollups are
 *   never touched, so the dashboard's history outlives the raw events.
 * - Removal is in small batches (`DELETE … WHERE id IN (SELECT … LIMIT n FOR
 *   UPDATE SKIP LOCKED)`), each its own short statement: no long lock, and a
 *   row a worker holds is skipped, never waited for.
 * - Tombstones (deleted items) are kept retention_days too. Before any is
 *   forgotten, the tenant's tombstone_horizon is raised to the cutoff and
 *   committed; only tombstones older than a horizon committed at least
 *   `tombstoneGraceMs` earlier are removed, so every applying transaction
 *   that could still have read the older horizon has ended. An event whose source timestamp is
 *   older than the horizon is `stale` by rule (server/core/apply.ts): a late
 *   event cannot resurrect an item whose tombstone was forgotten.
 * - Expired sessions are removed in the same batches (server/auth/session.ts:
 *   purgeExpiredSessions), up to maxBatches per round; live ones never.
 * - One process runs a round at a time, across all processes: a session
 *   advisory lock, tried, never waited for.
 */
import type pg from "pg";
import { purgeExpiredSessions } from "../auth/session.ts";
import { pool, statement } from "../db.ts";
import { log } from "../log.ts";

/** Arbitrary but fixed, beside the migration (…331), seed (…332) and claim (…333) locks. */
export const RETENTION_LOCK_KEY = 7_204_118_334;

export interface RetentionOptions {
  /** Rows per statement. */
  batchSize: number;
  /** Statements per tenant and table in one round, so one round stays bounded; the next round goes on. */
  maxBatches: number;
  /** How long a raised horizon must have been committed before tombstones below it are removed. */
  tombstoneGraceMs: number;
  /** Checked between statements: a stopping process ends the round after the statement in flight. */
  shouldStop?: () => boolean;
}

export const DEFAULT_RETENTION: RetentionOptions = { batchSize: 1_000, maxBatches: 100, tombstoneGraceMs: 60_000 };

export interface RetentionRound {
  eventsRemoved: number;
  tombstonesRemoved: number;
  sessionsRemoved: number;
  /** Statements run (each one batch). */
  batches: number;
}

const TENANT_CUTOFFS = statement(
  "retention_tenants",
  // The horizon was raised to the cutoff of its round, so it was committed at horizon + retention_days (or
  // earlier, if retention_days grew since): it is old enough when that lies tombstoneGraceMs ($1) in the past.
  `
SELECT id, now() - make_interval(days => retention_days) AS cutoff,
       CASE WHEN tombstone_horizon <= now() - make_interval(days => retention_days) - $1 * interval '1 millisecond'
            THEN tombstone_horizon END AS settled_horizon
  FROM tenants ORDER BY id`,
);

const REMOVE_EVENTS = statement(
  "retention_remove_events",
  `
DELETE FROM events WHERE id IN (
  SELECT id FROM events
   WHERE tenant_id = $1 AND status = 'done' AND received_at < $2
   LIMIT $3
     FOR UPDATE SKIP LOCKED)`,
);

// Raised only when a tombstone is older than the cutoff, so a tenant that has
// forgotten nothing has no horizon (and every late event is judged by precedence alone).
const RAISE_HORIZON = statement(
  "retention_raise_horizon",
  `
UPDATE tenants SET tombstone_horizon = $2
 WHERE id = $1 AND (tombstone_horizon IS NULL OR tombstone_horizon < $2)
   AND EXISTS (SELECT 1 FROM items WHERE tenant_id = $1 AND deleted AND updated_at < $2)`,
);

// SKIP LOCKED: a tombstone an applying transaction holds (it may be about to
// bring the item back) is left for a later round; the lock re-checks the row.
const REMOVE_TOMBSTONES = statement(
  "retention_remove_tombstones",
  `
DELETE FROM items WHERE (tenant_id, item_id) IN (
  SELECT tenant_id, item_id FROM items
   WHERE tenant_id = $1 AND deleted AND updated_at < $2
   LIMIT $3
     FOR UPDATE SKIP LOCKED)`,
);

/** Runs `removeBatch` (one statement, at most batchSize rows) until it removes less than a batch, or maxBatches. */
async function inBatches(removeBatch: () => Promise<number>, options: RetentionOptions, round: RetentionRound): Promise<number> {
  let removed = 0;
  for (let batch = 0; batch < options.maxBatches && !options.shouldStop?.(); batch++) {
    const count = await removeBatch();
    round.batches++;
    removed += count;
    if (count < options.batchSize) break;
  }
  return removed;
}

function batchOf(client: pg.PoolClient, query: { name: string; text: string }, values: unknown[], options: RetentionOptions) {
  return async () => (await client.query({ name: query.name, text: query.text, values: [...values, options.batchSize] })).rowCount ?? 0;
}

/** One round over every tenant; null when another process is running one. */
export async function runRetention(options: RetentionOptions = DEFAULT_RETENTION): Promise<RetentionRound | null> {
  const client = await pool.connect();
  let broken = false;
  // pg-pool takes its error listener off a checked-out client: without this one, the connection lost during a round
  // (a network cut) is an unhandled 'error' event that ends the process. The statement in flight fails by itself.
  const onLost = (error: Error) => {
    broken = true;
    log.warn({ module: "retention", err: error.message }, "database connection lost during a retention round");
  };
  client.on("error", onLost);
  try {
    const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [RETENTION_LOCK_KEY]);
    if (!rows[0]?.locked) return null;
    try {
      const round: RetentionRound = { eventsRemoved: 0, tombstonesRemoved: 0, sessionsRemoved: 0, batches: 0 };
      const tenants = await client.query<{ id: number; cutoff: Date; settled_horizon: Date | null }>({
        name: TENANT_CUTOFFS.name,
        text: TENANT_CUTOFFS.text,
        values: [options.tombstoneGraceMs],
      });
      for (const tenant of tenants.rows) {
        if (options.shouldStop?.()) break;
        round.eventsRemoved += await inBatches(batchOf(client, REMOVE_EVENTS, [tenant.id, tenant.cutoff], options), options, round);
        await client.query({ name: RAISE_HORIZON.name, text: RAISE_HORIZON.text, values: [tenant.id, tenant.cutoff] });
        // Below the horizon read before this round's raise, and only once that one has settled.
        if (tenant.settled_horizon !== null) {
          round.tombstonesRemoved += await inBatches(batchOf(client, REMOVE_TOMBSTONES, [tenant.id, tenant.settled_horizon], options), options, round);
        }
      }
      round.sessionsRemoved = await inBatches(() => purgeExpiredSessions(options.batchSize), options, round);
      return round;
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [RETENTION_LOCK_KEY]).catch(() => {
        broken = true; // the session ends with the connection, and its lock with it
      });
    }
  } catch (error) {
    broken = true;
    throw error;
  } finally {
    client.off("error", onLost);
    client.release(broken);
  }
}
