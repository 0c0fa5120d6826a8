/**
 * A claim's thin events, resolved before its applying transaction opens
 * (server/thin): processClaim calls resolveClaim once per claim, so no
 * network wait ever happens while the batch holds row locks.
 *
 * The read takes no lock: a stored payload never changes, and the claim's
 * rows are locked again by the applying transaction, so a claim reaped
 * meanwhile applies nothing whatever was resolved here.
 */
import { pool, sql, statement } from "../db.ts";
import { resolveThinEvents, type Resolution, type ResolveOptions } from "../thin/resolve.ts";
import { UNFINISHED, type Lease } from "./inbox.ts";

const CLAIMED_THIN = statement(
  "claimed_thin_events",
  `
SELECT id, tenant_id, event_id, payload
  FROM events
 WHERE id = ANY($1::bigint[]) AND ${UNFINISHED} AND payload->>'thin' = 'true'
   AND id IN (SELECT unnest(c.event_ids) FROM claims c WHERE c.claim_id = $2)
 ORDER BY id`,
);

/** The claim's thin events resolved into full bodies, and those that could not be (with why). */
export async function resolveClaim(lease: Lease, options?: ResolveOptions): Promise<Resolution> {
  const rows = await sql<{ id: number; tenant_id: number; event_id: string; payload: unknown }>(pool, CLAIMED_THIN, [lease.eventIds, lease.claimId]);
  if (rows.length === 0) return { payloads: new Map(), failures: new Map() };
  return resolveThinEvents(
    rows.map((row) => ({ id: row.id, tenantId: row.tenant_id, eventId: row.event_id, payload: row.payload })),
    options,
  );
}
