-- Claims take turns: one claim walks the ring at a time.
--
-- tidemark_claim (20261127030000_claim_function) locks each tenant's
-- scheduler_state row with SKIP LOCKED. With several workers claiming at the
-- same moment, a worker found the tenant whose turn it was locked by another
-- worker's claim, skipped it and served the next tenant out of turn; that
-- tenant then went to the back of the ring having had an extra visit. With
-- two workers and two backlogged tenants of weights 2 and 1, the heavier got
-- 1.5–1.8× the lighter's share instead of 2×, and the gap grows with the
-- number of workers.
--
-- Now every claim first takes one transaction-scoped advisory lock, so claims
-- run one after another and each sees the ring as the previous one left it:
-- visits happen exactly in ring order whatever the number of workers. The
-- lock is held for the claim's transaction only (a few milliseconds; the
-- apply runs outside it), so workers still apply batches in parallel.
--
-- Lock order: the claim lock, then scheduler_state, then events
-- (server/core/lock-order.ts). Only claims take the claim lock, and a claim
-- takes it before anything else, so it cannot be part of a wait cycle.
ALTER FUNCTION "tidemark_claim"(INTEGER, INTEGER, INTEGER, TEXT, INTEGER) RENAME TO "tidemark_claim_walk";

CREATE FUNCTION "tidemark_claim"(p_quantum INTEGER, p_max_batch INTEGER, p_lease_ms INTEGER, p_claim_id TEXT, p_max_tenants INTEGER)
RETURNS TABLE ("tenant_id" INTEGER, "event_id" BIGINT)
LANGUAGE plpgsql
AS $$
BEGIN
  -- The claim lock's key; the migration runner and the seed use 7204118331 and 7204118332.
  PERFORM pg_advisory_xact_lock(7204118333);
  RETURN QUERY SELECT w.tenant_id, w.event_id FROM "tidemark_claim_walk"(p_quantum, p_max_batch, p_lease_ms, p_claim_id, p_max_tenants) AS w;
END
$$;
