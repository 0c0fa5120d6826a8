-- The claim, revised (the rules of the walk are those of
-- 20261127030000_claim_function). Four changes:
--
-- 1. Claims take turns. Every claim first takes one transaction-scoped
--    advisory lock, so claims run one after another and each sees the ring
--    as the previous one left it. Before, a claim that found the tenant whose
--    turn it was locked by another claim (SKIP LOCKED) served the next tenant
--    out of turn, or came back empty while work was waiting: with two workers
--    and two backlogged tenants of weights 2 and 1 the heavier got 1.5–1.8×
--    the lighter's share instead of 2×. The lock lasts only the claim's short
--    transaction; batches are applied in parallel outside it.
--
-- 2. The walk visits only tenants with pending events, found by a skip scan
--    of events_pending_idx (one index probe per such tenant) and put in ring
--    order by looking up each one's turn, instead of probing every tenant in
--    the ring. With 10,000 idle tenants beside a backlogged one, every claim
--    probed 10,000 tenants.
--
-- 3. Plans are made for each call's values (plan_cache_mode =
--    force_custom_plan). After a few calls PL/pgSQL may switch to a generic
--    plan, which for "this tenant's oldest pending event" chose to read the
--    inbox in id order (events_pkey), through every other tenant's backlog: with
--    10,000 idle tenants and a 50,000-event whale, one claim took 96–115 s
--    instead of milliseconds. A tenant's slice of the inbox is anything from
--    empty to millions of rows, so no one plan suits all of them.
--
-- 4. "A tenant's oldest pending events" is written so that only the pending
--    index can answer it: the tenant as a range (tenant_id BETWEEN t AND t)
--    and the order as (tenant_id, id). With tenant_id = t and ORDER BY id,
--    the planner may read events_pkey in id order and filter, which walks
--    every event older than the tenant's first pending one: right after a
--    whale's backlog arrives, the statistics say nearly every event is
--    pending and that plan looks cheap; once 20,000 of the whale's events
--    were done, each claim read 28,000 pages (55–75 ms instead of 4 ms). With
--    a range, the pending index gives that order directly, and the primary
--    key could only give it after sorting the whole slice.
--
-- Lock order: the claim lock, then scheduler_state, then events
-- (server/core/lock-order.ts). Only claims take the claim lock, and a claim
-- takes it before anything else, so it cannot be part of a wait cycle. The
-- key 7204118333 is the claim lock's own (the migration runner and the seed
-- use 7204118331 and 7204118332).
CREATE OR REPLACE FUNCTION "tidemark_claim"(p_quantum INTEGER, p_max_batch INTEGER, p_lease_ms INTEGER, p_claim_id TEXT, p_max_tenants INTEGER)
RETURNS TABLE ("tenant_id" INTEGER, "event_id" BIGINT)
LANGUAGE plpgsql
-- Every lookup here wants the first rows of a tenant's slice of the pending
-- index, in id order. Right after a bulk load the statistics say the slice is
-- tiny, and the planner then prefers a bitmap scan of the whole slice plus a
-- sort: for a whale, every claim would read its entire backlog.
SET enable_bitmapscan = off
SET plan_cache_mode = force_custom_plan
AS $$
-- Variables are prefixed v_ so that none can be mistaken for a column.
DECLARE
  v_candidate RECORD;
  v_schedule RECORD;
  v_in_flight INTEGER;
  v_deficit DOUBLE PRECISION;
  v_wanted INTEGER;
  v_claimed BIGINT[];
  v_taken INTEGER;
  v_room INTEGER := p_max_batch;
  v_tenants INTEGER := 0;
  v_due INTEGER;
BEGIN
  PERFORM pg_advisory_xact_lock(7204118333);

  FOR v_candidate IN
    -- Tenants with pending events (due or not yet), in ring order.
    WITH RECURSIVE pending_tenants (tenant_id) AS (
      (SELECT e.tenant_id FROM events e WHERE e.status = 'pending' ORDER BY e.tenant_id LIMIT 1)
      UNION ALL
      SELECT (SELECT e.tenant_id FROM events e
               WHERE e.status = 'pending' AND e.tenant_id > p.tenant_id
               ORDER BY e.tenant_id LIMIT 1)
        FROM pending_tenants p
       WHERE p.tenant_id IS NOT NULL)
    -- Each one's turn looked up by key (a subquery, not a join: a join may read the whole of
    -- scheduler_state, one row per tenant, idle or not). A tenant without a scheduler row sorts
    -- last and is skipped below.
    SELECT p.tenant_id
      FROM pending_tenants p
     WHERE p.tenant_id IS NOT NULL
     ORDER BY (SELECT s.turn FROM scheduler_state s WHERE s.tenant_id = p.tenant_id), p.tenant_id
  LOOP
    EXIT WHEN v_room <= 0 OR v_tenants >= p_max_tenants;

    -- Has it an event due (not waiting for a retry)? A probe of the pending index, without locks.
    -- (Here and below, the tenant as a range and the order (tenant_id, id): see 4 above.)
    PERFORM 1 FROM events e
      WHERE e.tenant_id BETWEEN v_candidate.tenant_id AND v_candidate.tenant_id
        AND e.status = 'pending' AND e.available_at <= now()
      ORDER BY e.tenant_id, e.id
      LIMIT 1;
    CONTINUE WHEN NOT FOUND;

    SELECT s.deficit, s.visit_open, t.weight, t.max_concurrency INTO v_schedule
      FROM scheduler_state s JOIN tenants t ON t.id = s.tenant_id
     WHERE s.tenant_id = v_candidate.tenant_id
       FOR UPDATE OF s SKIP LOCKED;
    CONTINUE WHEN NOT FOUND;

    SELECT count(DISTINCT e.locked_by) INTO v_in_flight FROM events e
     WHERE e.tenant_id = v_candidate.tenant_id AND e.status = 'processing' AND e.locked_until > now();
    CONTINUE WHEN v_in_flight >= v_schedule.max_concurrency;

    v_deficit := CASE WHEN v_schedule.visit_open THEN v_schedule.deficit ELSE v_schedule.deficit + p_quantum * v_schedule.weight END;
    v_wanted := greatest(1, least(floor(v_deficit)::INTEGER, v_room));

    IF v_tenants > 0 THEN
      -- Already serving others: a backlogged tenant waits for the next claim, which it will lead.
      -- (Its row lock ends with this transaction; its turn is unchanged.)
      SELECT count(*) INTO v_due FROM (
        SELECT 1 FROM events p
         WHERE p.tenant_id BETWEEN v_candidate.tenant_id AND v_candidate.tenant_id
           AND p.status = 'pending' AND p.available_at <= now()
         ORDER BY p.tenant_id, p.id
         LIMIT v_wanted + 1) AS due;
      EXIT WHEN v_due > v_wanted;
    END IF;

    WITH taken_rows AS (
      UPDATE events AS e
         SET status = 'processing', locked_by = p_claim_id,
             locked_until = now() + p_lease_ms * interval '1 millisecond', attempts = e.attempts + 1
       WHERE e.id IN (SELECT p.id FROM events p
                       WHERE p.tenant_id BETWEEN v_candidate.tenant_id AND v_candidate.tenant_id
                         AND p.status = 'pending' AND p.available_at <= now()
                       ORDER BY p.tenant_id, p.id
                       LIMIT v_wanted
                         FOR UPDATE SKIP LOCKED)
      RETURNING e.id)
    SELECT array_agg(id ORDER BY id) INTO v_claimed FROM taken_rows;
    v_taken := coalesce(array_length(v_claimed, 1), 0);

    IF v_taken < v_wanted THEN
      -- The queue ran dry (or a concurrent claim took the rest): the visit ends, nothing is banked.
      UPDATE scheduler_state SET deficit = 0, visit_open = false, turn = nextval('scheduler_turn_seq')
       WHERE scheduler_state.tenant_id = v_candidate.tenant_id;
    ELSIF v_deficit - v_taken >= 1 THEN
      -- More to serve in this visit (a weight larger than the batch had room for): keep the place in
      -- the ring. The batch is full, so the walk ends here and nobody is served ahead of the rest of it.
      UPDATE scheduler_state SET deficit = v_deficit - v_taken, visit_open = true
       WHERE scheduler_state.tenant_id = v_candidate.tenant_id;
    ELSE
      UPDATE scheduler_state SET deficit = greatest(0, v_deficit - v_taken), visit_open = false, turn = nextval('scheduler_turn_seq')
       WHERE scheduler_state.tenant_id = v_candidate.tenant_id;
    END IF;

    IF v_taken > 0 THEN
      RETURN QUERY SELECT v_candidate.tenant_id, unnest(v_claimed);
      v_room := v_room - v_taken;
      v_tenants := v_tenants + 1;
    END IF;
  END LOOP;
END
$$;
