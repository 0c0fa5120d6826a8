/**
 * The fair scheduler and the claim: weighted deficit round robin over tenants
 * with claimable events, with all state in PostgreSQL (scheduler_state), so
 * any number of worker processes share one ring and none holds state another
 * needs.
 *
 * The ring is ordered by `turn`. A worker locks the first tenant in ring
 * order that has pending events due and fewer claims in flight than its
 * max_concurrency (FOR UPDATE SKIP LOCKED: two workers never pick the same
 * tenant at once, and the in-flight count is read under that lock, so the
 * cap holds). Opening a visit adds quantum × weight to the tenant's deficit;
 * the worker claims up to min(deficit, max batch) of its oldest due events
 * and spends one unit per event. The visit ends, and the tenant takes a new
 * turn number (the back of the ring), when its deficit is spent or its queue
 * ran dry (which also zeroes the deficit, as DRR does). So between two turns
 * of a whale every other backlogged tenant gets a turn: a small tenant waits
 * at most one round, and while backlogged each tenant's share is
 * proportional to its weight.
 *
 * Lock order: scheduler_state, then events (lock-order.ts).
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { sql, statement, transaction } from "../db.ts";
import { lockSteps } from "../core/lock-order.ts";

export interface SchedulerSettings {
  /** Events per turn for a weight-1 tenant. */
  quantum: number;
  /** Most events in one claim, whatever the weight. */
  maxBatch: number;
  leaseMs: number;
}

export interface Claim {
  /** Unique per claim; stored in events.locked_by. */
  claimId: string;
  tenantId: number;
  eventIds: number[];
}

const PICK_TENANT = statement(
  "pick_tenant",
  `
SELECT s.tenant_id, s.deficit, s.visit_open, t.weight, t.max_concurrency
  FROM scheduler_state s
  JOIN tenants t ON t.id = s.tenant_id
 WHERE EXISTS (SELECT 1 FROM events e
                WHERE e.tenant_id = s.tenant_id AND e.status = 'pending' AND e.available_at <= now())
   AND (SELECT count(DISTINCT e.locked_by) FROM events e
         WHERE e.tenant_id = s.tenant_id AND e.status = 'processing' AND e.locked_until > now()) < t.max_concurrency
 ORDER BY s.turn, s.tenant_id
 LIMIT 1
   FOR UPDATE OF s SKIP LOCKED`,
);

// PICK_TENANT's count is a cheap pre-filter, but read committed evaluates it
// on the statement's snapshot, which can predate a claim that committed while
// the statement waited for this tenant's row. Counted again, in a statement
// started after the lock is held, it sees every claim there is.
const CLAIMS_IN_FLIGHT = statement(
  "claims_in_flight",
  `
SELECT count(DISTINCT locked_by)::int AS claims
  FROM events
 WHERE tenant_id = $1 AND status = 'processing' AND locked_until > now()`,
);

const CLAIM_EVENTS = statement(
  "claim_events",
  `
UPDATE events
   SET status = 'processing', locked_by = $3, locked_until = now() + $4 * interval '1 millisecond', attempts = attempts + 1
 WHERE id IN (SELECT id FROM events
               WHERE tenant_id = $1 AND status = 'pending' AND available_at <= now()
               ORDER BY id
               LIMIT $2
                 FOR UPDATE SKIP LOCKED)
RETURNING id`,
);

const UPDATE_SCHEDULE = statement(
  "update_schedule",
  `
UPDATE scheduler_state
   SET deficit = $2, visit_open = $3, turn = CASE WHEN $3 THEN turn ELSE nextval('scheduler_turn_seq') END
 WHERE tenant_id = $1`,
);

/** Tenants without a scheduler row (created by hand, or before the scheduler existed) get one. */
export async function ensureSchedulerRows(): Promise<void> {
  await transaction((tx) => sql(tx, "INSERT INTO scheduler_state (tenant_id) SELECT id FROM tenants ON CONFLICT (tenant_id) DO NOTHING"));
}

const processTag = `${hostname()}:${process.pid}`;

export function newClaimId(): string {
  return `${processTag}:${randomBytes(6).toString("hex")}`;
}

/** Claims the next fair batch, or returns null when no tenant has claimable work. */
export async function claimNext(settings: SchedulerSettings): Promise<Claim | null> {
  // A picked tenant can yield nothing when a concurrent claim took its due
  // events first; that tenant has now lost its turn, so look again at once.
  for (let attempt = 0; attempt < 3; attempt++) {
    const outcome = await claimOnce(settings);
    if (outcome !== "raced") return outcome;
  }
  return null;
}

async function claimOnce(settings: SchedulerSettings): Promise<Claim | null | "raced"> {
  return transaction(async (tx) => {
    const locks = lockSteps(tx);
    locks.enter("scheduler_state");
    const [pick] = await sql<{ tenant_id: number; deficit: number; visit_open: boolean; weight: number; max_concurrency: number }>(tx, PICK_TENANT);
    if (!pick) return null;
    const [inFlight] = await sql<{ claims: number }>(tx, CLAIMS_IN_FLIGHT, [pick.tenant_id]);
    if ((inFlight?.claims ?? 0) >= pick.max_concurrency) return "raced";

    const deficit = pick.visit_open ? pick.deficit : pick.deficit + settings.quantum * pick.weight;
    const wanted = Math.max(1, Math.min(Math.floor(deficit), settings.maxBatch));
    const claimId = newClaimId();
    locks.enter("events");
    const claimed = await sql<{ id: number }>(tx, CLAIM_EVENTS, [pick.tenant_id, wanted, claimId, settings.leaseMs]);

    const remaining = deficit - claimed.length;
    const drained = claimed.length < wanted;
    const visitContinues = !drained && remaining >= 1;
    // The scheduler_state row is already locked by PICK_TENANT: this takes no new lock.
    await sql(tx, UPDATE_SCHEDULE, [pick.tenant_id, drained ? 0 : Math.max(0, remaining), visitContinues]);

    if (claimed.length === 0) return "raced";
    return { claimId, tenantId: pick.tenant_id, eventIds: claimed.map((row) => row.id) };
  });
}
