-- The fair claim (server/worker/scheduler.ts) as one server-side function, so
-- that a claim is one round trip and tenants are examined one at a time in
-- ring order. (As a single SELECT, the planner turned "has a pending event"
-- into a hash join over every pending event: a whale's backlog made every
-- claim slower.)
--
-- Weighted deficit round robin: walk the ring by (turn, tenant_id); skip a
-- tenant with nothing due, one another worker is claiming for (its row is
-- locked: SKIP LOCKED), and one at its max_concurrency (counted after its row
-- is locked, in a statement that sees every claim committed before the lock).
-- Opening a visit adds quantum × weight to the deficit; claim up to
-- min(deficit, room left in the batch) of its oldest due events; a visit
-- ends, and the tenant goes to the back of the ring, when its deficit is
-- spent or its queue ran dry (which also zeroes the deficit).
--
-- One claim may serve the visits of several tenants, consecutive in ring
-- order, up to p_max_tenants of them and p_max_batch events in all: a hundred
-- small tenants with an event each cost one claim and one apply transaction,
-- not a hundred of each. A backlogged tenant (one with more due events than
-- its visit takes) gets a claim of its own instead of joining one: otherwise
-- every small tenant's events would wait for a whale's batch to be applied
-- in the same transaction. The order in which tenants are served is exactly
-- the ring's; only the grouping changes.
--
-- Lock order: scheduler_state, then events (server/core/lock-order.ts). Rows
-- of scheduler_state are taken in ring order, which differs between
-- workers; SKIP LOCKED never waits, so that order cannot deadlock.
CREATE FUNCTION "tidemark_claim"(p_quantum INTEGER, p_max_batch INTEGER, p_lease_ms INTEGER, p_claim_id TEXT, p_max_tenants INTEGER)
RETURNS TABLE ("tenant_id" INTEGER, "event_id" BIGINT)
LANGUAGE plpgsql
-- Every lookup here wants the first rows of a tenant's slice of the pending
-- index, in id order. Right after a bulk load the statistics say the slice is
-- tiny, and the planner then prefers a bitmap scan of the whole slice plus a
-- sort: for a whale, every claim would read its entire backlog.
SET enable_bitmapscan = off
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
  FOR v_candidate IN SELECT s.tenant_id FROM scheduler_state s ORDER BY s.turn, s.tenant_id LOOP
    EXIT WHEN v_room <= 0 OR v_tenants >= p_max_tenants;

    -- A probe of the pending index, without locks: most tenants stop here. (ORDER BY id makes it
    -- an index probe: with LIMIT 1 alone, a generic plan may prefer a sequential scan of the inbox.)
    PERFORM 1 FROM events e
      WHERE e.tenant_id = v_candidate.tenant_id AND e.status = 'pending' AND e.available_at <= now()
      ORDER BY e.id
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
         WHERE p.tenant_id = v_candidate.tenant_id AND p.status = 'pending' AND p.available_at <= now()
         ORDER BY p.id
         LIMIT v_wanted + 1) AS due;
      EXIT WHEN v_due > v_wanted;
    END IF;

    WITH taken_rows AS (
      UPDATE events AS e
         SET status = 'processing', locked_by = p_claim_id,
             locked_until = now() + p_lease_ms * interval '1 millisecond', attempts = e.attempts + 1
       WHERE e.id IN (SELECT p.id FROM events p
                       WHERE p.tenant_id = v_candidate.tenant_id AND p.status = 'pending' AND p.available_at <= now()
                       ORDER BY p.id
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
