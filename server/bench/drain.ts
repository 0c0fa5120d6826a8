/**
 * Waiting for the workers to drain a backlog, without slowing them down.
 *
 * A bench that polls "how many events are not done yet?" with count(*) reads
 * the whole backlog on every poll: measured on the apply mode, 249 such polls
 * took 9 s of PostgreSQL time during a 14 s drain, CPU the workers' figure
 * then paid for. The probe here stops at the first pending event it finds in
 * the pending index (events_pending_idx), so a poll costs a few index pages
 * whatever the backlog.
 */
import { pool, sql, statement } from "../db.ts";

const ANY_PENDING = statement("bench_any_pending", "SELECT EXISTS (SELECT 1 FROM events WHERE tenant_id = ANY($1::int[]) AND status = 'pending') AS pending");

/** True while any event of these tenants is pending (not yet done or dead). */
export async function anyPending(tenantIds: readonly number[]): Promise<boolean> {
  const [row] = await sql<{ pending: boolean }>(pool, ANY_PENDING, [[...tenantIds]]);
  return row?.pending ?? true;
}

/** Waits until no event of these tenants is pending; false if `timeoutMs` passes first. */
export async function waitUntilDrained(tenantIds: readonly number[], timeoutMs: number, pollMs = 20): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (await anyPending(tenantIds)) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  return true;
}
