-- Retention (server/retention) and request ids; see docs/design.md, "Retention"
-- and "Observability".
-- AlterTable
ALTER TABLE "tenants" ADD COLUMN     "retention_days" INTEGER NOT NULL DEFAULT 30,
ADD COLUMN     "tombstone_horizon" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "events" ADD COLUMN     "request_id" TEXT;

-- Hand-written: what Prisma has no syntax for.
ALTER TABLE "tenants"
  ADD CONSTRAINT "tenants_retention_days_range" CHECK ("retention_days" BETWEEN 1 AND 3650);

ALTER TABLE "events"
  ADD CONSTRAINT "events_request_id_format" CHECK ("request_id" IS NULL OR "request_id" ~ '^[\x21-\x7e]{1,128}$');

-- The retention job finds old events by arrival time. received_at grows with
-- the heap's append order, so a BRIN index (a few pages, next to no cost per
-- insert) narrows the scan to the oldest block ranges.
CREATE INDEX "events_received_at_brin" ON "events" USING brin ("received_at");

-- Tombstones the job may forget, without scanning live items.
CREATE INDEX "items_tombstones_idx" ON "items" ("tenant_id", "updated_at") WHERE "deleted";
