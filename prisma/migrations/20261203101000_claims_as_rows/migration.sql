-- Claims as rows (docs/design.md, "The inbox state machine" and "Fair scheduling").
--
-- Before, a claim moved every event it took to `processing` (locked_by,
-- locked_until, attempts + 1) and the applying transaction moved it again to
-- `done`: two non-HOT row versions per event, each with an entry in every
-- index of the inbox. Now a claim inserts one `claims` row per tenant it
-- serves (worker, tenant, the events taken, lease expiry) and leaves the
-- events alone; the event is written once, when its attempt ends (done, a
-- failure, dead). Ownership is the claim row: an applying transaction locks
-- its own claim rows before it locks their events, the reaper deletes only
-- expired claim rows that nobody holds (SKIP LOCKED), and a claim never takes
-- an event that a claim row still lists. An expired lease therefore returns
-- its events by deleting one row, and spends no attempt.
--
-- Events that an older worker holds at the moment of the upgrade go back to
-- pending, and get back the attempt their claim had counted in advance.
UPDATE "events" SET "status" = 'pending', "attempts" = greatest(0, "attempts" - 1), "available_at" = now()
 WHERE "status" = 'processing';

ALTER TABLE "events" DROP CONSTRAINT "events_processing_leased";
ALTER TABLE "events" DROP CONSTRAINT "events_status_known";
ALTER TABLE "events" ADD CONSTRAINT "events_status_known" CHECK ("status" IN ('pending', 'done', 'dead'));
DROP INDEX "events_processing_idx";
ALTER TABLE "events" DROP COLUMN "locked_by", DROP COLUMN "locked_until";

-- One row per (claim, tenant served). A claim of several small tenants has a
-- row for each, so a tenant's in-flight claims are counted by its own rows.
CREATE TABLE "claims" (
    "claim_id" TEXT NOT NULL,
    "tenant_id" INTEGER NOT NULL,
    "worker" TEXT NOT NULL,
    "event_ids" BIGINT[] NOT NULL,
    "claimed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
    "lease_until" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "claims_pkey" PRIMARY KEY ("claim_id", "tenant_id"),
    CONSTRAINT "claims_not_empty" CHECK (cardinality("event_ids") > 0)
);
CREATE INDEX "claims_tenant_id_idx" ON "claims" ("tenant_id");
ALTER TABLE "claims" ADD CONSTRAINT "claims_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- A visit that spans several claims (its deficit is larger than a batch)
-- records where the ring stood when it opened: the tenants whose turn is
-- older than the mark have not been served since, and may be served beside
-- it; when it closes, the tenant goes back to the mark, behind them and ahead
-- of the tenants served while it was open (see the claim below).
ALTER TABLE "scheduler_state" ADD COLUMN "visit_mark" BIGINT;
UPDATE "scheduler_state" SET "visit_mark" = nextval('scheduler_turn_seq') WHERE "visit_open";

DROP FUNCTION "tidemark_claim"(INTEGER, INTEGER, INTEGER, TEXT, INTEGER);

-- The claim, revised again. The walk and its rules are those of
-- 20261127030000_claim_function and 20261127040000_claims_take_turns (claims
-- take turns under the claim lock; candidates by a skip scan of the pending
-- index in ring order; plans per call; a tenant as a range). What changed:
--
-- 1. Taking events inserts a claims row and writes no event. Events listed
--    by any claim row of the tenant (live, or expired but not yet reaped) are
--    not taken again; the tenant's live claim rows are what max_concurrency
--    counts.
--
-- 2. A visit that is open (it had more deficit than the batch had room for)
--    and has a claim in flight is passed over, its place and deficit kept,
--    for the tenants behind it: those not served since it opened (their turn
--    is older than its visit_mark), and those whose visit drains them (due
--    events ≤ what the visit takes: they are not backlogged). A backlogged
--    tenant already served while the visit was open waits for it to end, so
--    each backlogged tenant gets one visit per round; when the open visit
--    closes, its tenant goes back to its mark, ahead of those served beside
--    it, so the weights stay exact. A whale's long visit is thus claimed by
--    one loop at a time while the other loops serve the rest of the ring.
--    When nobody else is due, the open visit goes on on this claim too (a
--    second pass without the rule), so no loop idles while work waits. p_open_visits_alone = false turns the rule off (the
--    behaviour before: every loop takes the open visit at the head of the
--    ring); only the test-only fault whale-takes-all-loops passes it.
--
-- Lock order: the claim lock, scheduler_state, then claims (a new row, which
-- nobody else can hold); events are read, not locked (server/core/lock-order.ts).
CREATE FUNCTION "tidemark_claim"(p_quantum INTEGER, p_max_batch INTEGER, p_lease_ms INTEGER, p_claim_id TEXT, p_max_tenants INTEGER,
                                 p_open_visits_alone BOOLEAN DEFAULT true)
RETURNS TABLE ("tenant_id" INTEGER, "event_id" BIGINT)
LANGUAGE plpgsql
SET enable_bitmapscan = off
SET plan_cache_mode = force_custom_plan
AS $$
-- Variables are prefixed v_ so that none can be mistaken for a column.
DECLARE
  v_candidate RECORD;
  v_schedule RECORD;
  v_in_flight INTEGER;
  v_held BIGINT[];
  v_deficit DOUBLE PRECISION;
  v_wanted INTEGER;
  v_claimed BIGINT[];
  v_taken INTEGER;
  v_room INTEGER := p_max_batch;
  v_tenants INTEGER := 0;
  v_due INTEGER;
  v_mark BIGINT;
  v_passed_over BOOLEAN;
  v_late BOOLEAN;
  v_alone BOOLEAN := p_open_visits_alone;
  -- The claim id is "<worker>:<random>" (server/worker/scheduler.ts).
  v_worker TEXT := CASE WHEN strpos(p_claim_id, ':') > 0
                        THEN left(p_claim_id, length(p_claim_id) - strpos(reverse(p_claim_id), ':')) ELSE p_claim_id END;
BEGIN
  PERFORM pg_advisory_xact_lock(7204118333);

  <<passes>>
  LOOP
    v_mark := NULL;
    v_passed_over := false;
    FOR v_candidate IN
      WITH RECURSIVE pending_tenants (tenant_id) AS (
        (SELECT e.tenant_id FROM events e WHERE e.status = 'pending' ORDER BY e.tenant_id LIMIT 1)
        UNION ALL
        SELECT (SELECT e.tenant_id FROM events e
                 WHERE e.status = 'pending' AND e.tenant_id > p.tenant_id
                 ORDER BY e.tenant_id LIMIT 1)
          FROM pending_tenants p
         WHERE p.tenant_id IS NOT NULL)
      SELECT r.tenant_id, r.turn
        FROM (SELECT p.tenant_id, (SELECT s.turn FROM scheduler_state s WHERE s.tenant_id = p.tenant_id) AS turn
                FROM pending_tenants p
               WHERE p.tenant_id IS NOT NULL) AS r
       ORDER BY r.turn, r.tenant_id
    LOOP
      EXIT WHEN v_room <= 0 OR v_tenants >= p_max_tenants;

      -- The tenant's events that claim rows still list: not to be taken again.
      SELECT coalesce(array_agg(h.id), '{}'), count(DISTINCT c.claim_id) FILTER (WHERE c.lease_until > now())
        INTO v_held, v_in_flight
        FROM claims c CROSS JOIN LATERAL unnest(c.event_ids) AS h(id)
       WHERE c.tenant_id = v_candidate.tenant_id;

      -- Has it an event due (not waiting for a retry, not held)? A probe of the pending index, without locks.
      PERFORM 1 FROM events e
        WHERE e.tenant_id BETWEEN v_candidate.tenant_id AND v_candidate.tenant_id
          AND e.status = 'pending' AND e.available_at <= now() AND e.id <> ALL (v_held)
        ORDER BY e.tenant_id, e.id
        LIMIT 1;
      CONTINUE WHEN NOT FOUND;

      SELECT s.deficit, s.visit_open, s.visit_mark, t.weight, t.max_concurrency INTO v_schedule
        FROM scheduler_state s JOIN tenants t ON t.id = s.tenant_id
       WHERE s.tenant_id = v_candidate.tenant_id
         FOR UPDATE OF s SKIP LOCKED;
      CONTINUE WHEN NOT FOUND;

      CONTINUE WHEN v_in_flight >= v_schedule.max_concurrency;

      IF v_alone AND v_schedule.visit_open AND v_in_flight > 0 THEN
        -- Its open visit is being served by another claim: keep its place and deficit, serve the others.
        v_mark := least(v_mark, coalesce(v_schedule.visit_mark, 0)); -- least() ignores the NULL of the first
        v_passed_over := true;
        CONTINUE;
      END IF;

      v_deficit := CASE WHEN v_schedule.visit_open THEN v_schedule.deficit ELSE v_schedule.deficit + p_quantum * v_schedule.weight END;
      v_wanted := greatest(1, least(floor(v_deficit)::INTEGER, v_room));

      -- Served since an open visit it is passed over for began (its turn is newer than the visit's mark)?
      v_late := v_mark IS NOT NULL AND v_candidate.turn > v_mark;
      IF v_tenants > 0 OR v_late THEN
        SELECT count(*) INTO v_due FROM (
          SELECT 1 FROM events p
           WHERE p.tenant_id BETWEEN v_candidate.tenant_id AND v_candidate.tenant_id
             AND p.status = 'pending' AND p.available_at <= now() AND p.id <> ALL (v_held)
           ORDER BY p.tenant_id, p.id
           LIMIT v_wanted + 1) AS due;
        -- Backlogged and already served in this round: it waits for the open visit to end (exact weights).
        CONTINUE WHEN v_late AND v_due > v_wanted;
        -- Already serving others: a backlogged tenant waits for the next claim, which it will lead.
        EXIT WHEN v_due > v_wanted;
      END IF;

      SELECT array_agg(taken.id ORDER BY taken.id) INTO v_claimed FROM (
        SELECT p.id FROM events p
         WHERE p.tenant_id BETWEEN v_candidate.tenant_id AND v_candidate.tenant_id
           AND p.status = 'pending' AND p.available_at <= now() AND p.id <> ALL (v_held)
         ORDER BY p.tenant_id, p.id
         LIMIT v_wanted) AS taken;
      v_taken := coalesce(array_length(v_claimed, 1), 0);

      IF v_taken < v_wanted OR v_deficit - v_taken < 1 THEN
        -- The visit ends: the queue ran dry (nothing is banked) or the deficit is spent (a fraction is
        -- kept). The tenant goes to the back of the ring, or, after an open visit, back to its mark.
        UPDATE scheduler_state
           SET deficit = CASE WHEN v_taken < v_wanted THEN 0 ELSE greatest(0, v_deficit - v_taken) END,
               visit_open = false, visit_mark = NULL,
               turn = CASE WHEN v_schedule.visit_open AND v_schedule.visit_mark IS NOT NULL THEN v_schedule.visit_mark
                           ELSE nextval('scheduler_turn_seq') END
         WHERE scheduler_state.tenant_id = v_candidate.tenant_id;
      ELSE
        -- More to serve in this visit (a weight larger than the batch had room for): keep the place in
        -- the ring. The batch is full, so the walk ends here and nobody is served ahead of the rest of it.
        UPDATE scheduler_state
           SET deficit = v_deficit - v_taken, visit_open = true,
               visit_mark = CASE WHEN v_schedule.visit_open THEN v_schedule.visit_mark ELSE nextval('scheduler_turn_seq') END
         WHERE scheduler_state.tenant_id = v_candidate.tenant_id;
      END IF;

      IF v_taken > 0 THEN
        INSERT INTO claims (claim_id, tenant_id, worker, event_ids, lease_until)
        VALUES (p_claim_id, v_candidate.tenant_id, v_worker, v_claimed, now() + p_lease_ms * interval '1 millisecond');
        RETURN QUERY SELECT v_candidate.tenant_id, unnest(v_claimed);
        v_room := v_room - v_taken;
        v_tenants := v_tenants + 1;
      END IF;
    END LOOP;

    -- Nobody but open visits in flight was due: this claim helps with the first of them.
    EXIT passes WHEN v_tenants > 0 OR NOT v_passed_over;
    v_alone := false;
  END LOOP;
END
$$;
