-- A tenant by itself fills the batch; a tenant's default concurrency is one claim at a time
-- (docs/design.md, "Fair scheduling"; README, "Benchmarks").
--
-- 1. The claim's walk (20261203101000_claims_as_rows) gives each visit its deficit, a quantum times
--    the weight: 100 events for a weight-1 tenant. A tenant alone in the system was served the same
--    way, 100 events per claim, and paid a claim, a transaction and their round trips per 100 events
--    (apply bench: one tenant, 4.6k events/s at 100 per claim against 10.3k at 500). Now a tenant is
--    "by itself" when it leads the claim, no other tenant has pending events, and no other tenant was
--    served within p_alone_ms (1 s): its visit then takes the whole batch (the worker's time-bounded
--    limit, at most WORKER_MAX_BATCH). A visit ends with the batch either way, so the deficit and the
--    ring are kept as before, and as soon as another tenant is active, visits are one quantum again.
--    scheduler_state.served_at records each visit, for "no other was served".
--
-- 2. The default max_concurrency goes from 2 to 1. With two worker loops and a cap of two, a whale
--    held both loops, and a small tenant's event waited for a whale batch to end (fairness bench:
--    small-tenant p99 beside the whale / alone 1.59 (1.39-1.67) at a cap of 2, 1.34 (1.04-1.43) at 1).
--    A cap of one leaves the other loops to everyone else. Tenants created before keep their cap.
--
-- The fault whale-takes-all-loops (p_open_visits_alone = false) is unchanged; a tenant's cap is still
-- what the admin set.
ALTER TABLE "scheduler_state" ADD COLUMN "served_at" TIMESTAMPTZ(3);
CREATE INDEX "scheduler_state_served_at_idx" ON "scheduler_state" ("served_at");
ALTER TABLE "tenants" ALTER COLUMN "max_concurrency" SET DEFAULT 1;

DROP FUNCTION "tidemark_claim"(INTEGER, INTEGER, INTEGER, TEXT, INTEGER, BOOLEAN);

CREATE FUNCTION "tidemark_claim"(p_quantum INTEGER, p_max_batch INTEGER, p_lease_ms INTEGER, p_claim_id TEXT, p_max_tenants INTEGER,
                                 p_open_visits_alone BOOLEAN DEFAULT true, p_alone_ms INTEGER DEFAULT 1000)
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
  v_by_itself BOOLEAN;
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

      -- By itself: the claim's first tenant, no other tenant has pending events, and no other was served
      -- within p_alone_ms. Its visit may then fill the batch: nobody waits behind it, and one large batch
      -- costs far less per event than many of one quantum. Two probes of the pending index and one of
      -- scheduler_state_served_at_idx. The probes are ORDER BY … LIMIT 1, not NOT EXISTS: for NOT EXISTS the
      -- planner expects an early match and reads the whole inbox when there is none (a seq scan, 20 ms at
      -- 300,000 events, against 0.02 ms for the ordered probe of the pending index).
      v_by_itself := v_tenants = 0 AND p_alone_ms > 0
        AND (SELECT o.tenant_id FROM events o WHERE o.status = 'pending' AND o.tenant_id < v_candidate.tenant_id
              ORDER BY o.tenant_id DESC LIMIT 1) IS NULL
        AND (SELECT o.tenant_id FROM events o WHERE o.status = 'pending' AND o.tenant_id > v_candidate.tenant_id
              ORDER BY o.tenant_id LIMIT 1) IS NULL
        AND NOT EXISTS (SELECT 1 FROM scheduler_state o
                         WHERE o.served_at > now() - p_alone_ms * interval '1 millisecond' AND o.tenant_id <> v_candidate.tenant_id);
      IF v_by_itself THEN
        v_wanted := v_room;
      END IF;

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
               visit_open = false, visit_mark = NULL, served_at = now(),
               turn = CASE WHEN v_schedule.visit_open AND v_schedule.visit_mark IS NOT NULL THEN v_schedule.visit_mark
                           ELSE nextval('scheduler_turn_seq') END
         WHERE scheduler_state.tenant_id = v_candidate.tenant_id;
      ELSE
        -- More to serve in this visit (a weight larger than the batch had room for): keep the place in
        -- the ring. The batch is full, so the walk ends here and nobody is served ahead of the rest of it.
        UPDATE scheduler_state
           SET deficit = v_deficit - v_taken, visit_open = true, served_at = now(),
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
