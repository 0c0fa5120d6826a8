-- The fair scheduler's ring: a tenant leaving its turn takes the next number
-- and so goes to the back. A sequence, because "max(turn) + 1" races.
CREATE SEQUENCE "scheduler_turn_seq" AS BIGINT;

-- Tenants created before the scheduler existed, or by hand, get their row.
INSERT INTO "scheduler_state" ("tenant_id")
SELECT "id" FROM "tenants"
ON CONFLICT ("tenant_id") DO NOTHING;
