-- CreateTable
CREATE TABLE "tenants" (
    "id" SERIAL NOT NULL,
    "slug" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "secret" TEXT NOT NULL,
    "previous_secret" TEXT,
    "previous_secret_expires_at" TIMESTAMPTZ(3),
    "rate_per_second" DOUBLE PRECISION NOT NULL DEFAULT 100,
    "burst" INTEGER NOT NULL DEFAULT 200,
    "daily_quota" INTEGER,
    "weight" INTEGER NOT NULL DEFAULT 1,
    "max_concurrency" INTEGER NOT NULL DEFAULT 2,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tenants_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "events" (
    "id" BIGSERIAL NOT NULL,
    "tenant_id" INTEGER NOT NULL,
    "event_id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "item_id" TEXT NOT NULL,
    "version" BIGINT NOT NULL,
    "payload" JSONB NOT NULL,
    "payload_hash" BYTEA NOT NULL,
    "source_timestamp" TIMESTAMPTZ(3) NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "available_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "locked_by" TEXT,
    "locked_until" TIMESTAMPTZ(3),
    "outcome" TEXT,
    "processed_at" TIMESTAMPTZ(3),
    "last_error" TEXT,

    CONSTRAINT "events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "items" (
    "tenant_id" INTEGER NOT NULL,
    "item_id" TEXT NOT NULL,
    "version" BIGINT NOT NULL,
    "type_rank" SMALLINT NOT NULL,
    "event_id" TEXT NOT NULL,
    "content_hash" BYTEA NOT NULL,
    "deleted" BOOLEAN NOT NULL DEFAULT false,
    "name" TEXT,
    "category" TEXT,
    "value" DOUBLE PRECISION,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "items_pkey" PRIMARY KEY ("tenant_id","item_id")
);

-- CreateTable
CREATE TABLE "item_refs" (
    "tenant_id" INTEGER NOT NULL,
    "item_id" TEXT NOT NULL,
    "ref_id" TEXT NOT NULL,

    CONSTRAINT "item_refs_pkey" PRIMARY KEY ("tenant_id","item_id","ref_id")
);

-- CreateTable
CREATE TABLE "rollup_counts" (
    "tenant_id" INTEGER NOT NULL,
    "resolution" INTEGER NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "received_created" BIGINT NOT NULL DEFAULT 0,
    "received_updated" BIGINT NOT NULL DEFAULT 0,
    "received_deleted" BIGINT NOT NULL DEFAULT 0,
    "applied" BIGINT NOT NULL DEFAULT 0,
    "stale" BIGINT NOT NULL DEFAULT 0,
    "duplicate" BIGINT NOT NULL DEFAULT 0,
    "rejected" BIGINT NOT NULL DEFAULT 0,
    "dead" BIGINT NOT NULL DEFAULT 0,
    "latency_count" BIGINT NOT NULL DEFAULT 0,
    "latency_sum_ms" DOUBLE PRECISION NOT NULL DEFAULT 0,

    CONSTRAINT "rollup_counts_pkey" PRIMARY KEY ("tenant_id","resolution","bucket")
);

-- CreateTable
CREATE TABLE "rollup_latency" (
    "tenant_id" INTEGER NOT NULL,
    "resolution" INTEGER NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "bin" INTEGER NOT NULL,
    "count" BIGINT NOT NULL,

    CONSTRAINT "rollup_latency_pkey" PRIMARY KEY ("tenant_id","resolution","bucket","bin")
);

-- CreateTable
CREATE TABLE "scheduler_state" (
    "tenant_id" INTEGER NOT NULL,
    "deficit" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "turn" BIGINT NOT NULL DEFAULT 0,
    "visit_open" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "scheduler_state_pkey" PRIMARY KEY ("tenant_id")
);

-- CreateTable
CREATE TABLE "users" (
    "id" SERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "password_hash" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sessions" (
    "id" TEXT NOT NULL,
    "user_id" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "memberships" (
    "user_id" INTEGER NOT NULL,
    "tenant_id" INTEGER NOT NULL,

    CONSTRAINT "memberships_pkey" PRIMARY KEY ("user_id","tenant_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "tenants_slug_key" ON "tenants"("slug");

-- CreateIndex
CREATE INDEX "events_tenant_id_item_id_idx" ON "events"("tenant_id", "item_id");

-- CreateIndex
CREATE UNIQUE INDEX "events_tenant_id_event_id_key" ON "events"("tenant_id", "event_id");

-- CreateIndex
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");

-- CreateIndex
CREATE INDEX "sessions_user_id_idx" ON "sessions"("user_id");

-- AddForeignKey
ALTER TABLE "events" ADD CONSTRAINT "events_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "items" ADD CONSTRAINT "items_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "item_refs" ADD CONSTRAINT "item_refs_tenant_id_item_id_fkey" FOREIGN KEY ("tenant_id", "item_id") REFERENCES "items"("tenant_id", "item_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "scheduler_state" ADD CONSTRAINT "scheduler_state_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Hand-written below: constraints and indexes Prisma has no syntax for.

ALTER TABLE "tenants"
  ADD CONSTRAINT "tenants_slug_format" CHECK ("slug" ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'),
  ADD CONSTRAINT "tenants_rate_positive" CHECK ("rate_per_second" > 0),
  ADD CONSTRAINT "tenants_burst_positive" CHECK ("burst" >= 1),
  ADD CONSTRAINT "tenants_daily_quota_positive" CHECK ("daily_quota" IS NULL OR "daily_quota" >= 1),
  ADD CONSTRAINT "tenants_weight_range" CHECK ("weight" BETWEEN 1 AND 1000),
  ADD CONSTRAINT "tenants_max_concurrency_positive" CHECK ("max_concurrency" >= 1);

ALTER TABLE "events"
  ADD CONSTRAINT "events_type_known" CHECK ("type" IN ('item.created', 'item.updated', 'item.deleted')),
  ADD CONSTRAINT "events_version_positive" CHECK ("version" > 0),
  ADD CONSTRAINT "events_status_known" CHECK ("status" IN ('pending', 'processing', 'done', 'dead')),
  ADD CONSTRAINT "events_outcome_known" CHECK ("outcome" IN ('applied', 'stale', 'duplicate', 'rejected', 'dead')),
  -- An event has an outcome exactly when its processing has ended.
  ADD CONSTRAINT "events_outcome_iff_ended" CHECK (("status" IN ('done', 'dead')) = ("outcome" IS NOT NULL)),
  -- A processing event is always leased.
  ADD CONSTRAINT "events_processing_leased" CHECK ("status" <> 'processing' OR ("locked_by" IS NOT NULL AND "locked_until" IS NOT NULL));

ALTER TABLE "items"
  ADD CONSTRAINT "items_type_rank_known" CHECK ("type_rank" BETWEEN 1 AND 3),
  ADD CONSTRAINT "items_version_positive" CHECK ("version" > 0);

ALTER TABLE "users"
  ADD CONSTRAINT "users_role_known" CHECK ("role" IN ('admin', 'viewer'));

-- The claim: a tenant's pending events in arrival order.
CREATE INDEX "events_pending_idx" ON "events" ("tenant_id", "id") WHERE "status" = 'pending';
-- Leases in flight: per-tenant concurrency and the reaper of expired leases.
CREATE INDEX "events_processing_idx" ON "events" ("tenant_id", "locked_until") WHERE "status" = 'processing';
-- Dead letters, per tenant.
CREATE INDEX "events_dead_idx" ON "events" ("tenant_id", "id") WHERE "status" = 'dead';
