/**
 * The fair scheduler and the claim: weighted deficit round robin over tenants
 * with claimable events, with all state in PostgreSQL (scheduler_state), so
 * any number of worker processes share one ring and none holds state another
 * needs.
 *
 * The walk itself runs in the database, as the function tidemark_claim
 * (rules in prisma/migrations/20261127030000_claim_function, revised by
 * 20261127040000_claims_take_turns), one round trip per claim:
 * - Claims take turns under one advisory lock, so every claim sees the ring
 *   exactly as the previous one left it and no tenant is served out of turn,
 *   however many workers claim at once. The lock lasts only the claim's short
 *   transaction (one statement); batches are applied in parallel outside it.
 * - The walk visits the tenants that have pending events (a skip scan of the
 *   pending index), in ring order (`turn`), skipping one at its
 *   max_concurrency (counted under the tenant's row lock, so the cap holds).
 *   Idle tenants and other tenants' backlogs cost a claim nothing
 *   (scheduler.integration.test.ts counts its reads).
 * - A visit adds quantum × weight to the tenant's deficit and takes up to
 *   that many of its oldest due events; a tenant whose visit ends goes to the
 *   back of the ring. So between two turns of a whale every other backlogged
 *   tenant gets one: a small tenant waits at most one round, and while
 *   backlogged each tenant's share follows its weight.
 * - One claim may group the visits of several lightly loaded tenants; a
 *   backlogged tenant gets a claim of its own.
 * - A visit larger than a batch stays open across claims; while one claim
 *   serves it, the others serve the tenants behind it not yet served since it
 *   opened, and when it closes its tenant goes back to where the ring stood
 *   when it opened: no tenant holds every loop while others wait their turn,
 *   and the weights stay exact (20261203101000_claims_as_rows).
 * - The claim inserts claims rows (its lease) and writes no event.
 *
 * Lock order: the claim lock, scheduler_state, then claims (lock-order.ts).
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { sql, transaction } from "../db.ts";
import { faultActive } from "../faults.ts";
import { claimEvents } from "./inbox.ts";

export interface SchedulerSettings {
  /** Events per turn for a weight-1 tenant. */
  quantum: number;
  /** Most events in one claim, whatever the weight. */
  maxBatch: number;
  leaseMs: number;
}

/** A batch leased to one worker: the visits of one or more tenants, consecutive in ring order. */
export interface Claim {
  /** Unique per claim, `<worker>:<random>`; the key of its claims rows. */
  claimId: string;
  /** The tenants served, in ring order. */
  tenantIds: number[];
  eventIds: number[];
  /** The lease it was claimed with, which its heartbeat renews (lease.ts). */
  leaseMs: number;
}

/** Most tenant visits one claim may group (see tidemark_claim). */
export const MAX_TENANTS_PER_CLAIM = 64;

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
  const claimId = newClaimId();
  // Inside tidemark_claim the locks are taken claim lock → scheduler_state → claims (lock-order.ts).
  // TEST-ONLY (server/faults.ts): whale-takes-all-loops turns the open-visit rule off.
  const rows = await claimEvents({ ...settings, maxTenants: MAX_TENANTS_PER_CLAIM }, claimId, undefined, !faultActive("whale-takes-all-loops"));
  if (rows.length === 0) return null;
  return {
    claimId,
    tenantIds: [...new Set(rows.map((row) => row.tenant_id))],
    eventIds: rows.map((row) => Number(row.event_id)),
    leaseMs: settings.leaseMs,
  };
}
