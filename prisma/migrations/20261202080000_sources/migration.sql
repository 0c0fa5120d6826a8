-- Pull mode: one source per tenant (server/collector). The cursor lives in this
-- row only; see docs/design.md, "Pull mode".
-- CreateTable
CREATE TABLE "sources" (
    "tenant_id" INTEGER NOT NULL,
    "url" TEXT NOT NULL,
    "item_url" TEXT,
    "token" TEXT,
    "interval_ms" INTEGER NOT NULL,
    "page_size" INTEGER NOT NULL,
    "paused" BOOLEAN NOT NULL DEFAULT false,
    "cursor" TEXT,
    "cursor_version" BIGINT NOT NULL DEFAULT 0,
    "has_more" BOOLEAN NOT NULL DEFAULT false,
    "next_fetch_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "waiting_for" TEXT,
    "lease_owner" TEXT,
    "lease_until" TIMESTAMPTZ(3),
    "lease_token" BIGINT NOT NULL DEFAULT 0,
    "last_fetch_at" TIMESTAMPTZ(3),
    "last_success_at" TIMESTAMPTZ(3),
    "caught_up_at" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "consecutive_failures" INTEGER NOT NULL DEFAULT 0,
    "events_stored" BIGINT NOT NULL DEFAULT 0,
    "events_invalid" BIGINT NOT NULL DEFAULT 0,
    "last_invalid" TEXT,
    "pages_committed" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sources_pkey" PRIMARY KEY ("tenant_id")
);

-- CreateIndex
CREATE INDEX "sources_next_fetch_at_idx" ON "sources"("next_fetch_at");

-- AddForeignKey
ALTER TABLE "sources" ADD CONSTRAINT "sources_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- What the collector relies on, enforced where no code path can skip it.
ALTER TABLE "sources"
  ADD CONSTRAINT "sources_interval_ms_check" CHECK ("interval_ms" > 0),
  ADD CONSTRAINT "sources_page_size_check" CHECK ("page_size" BETWEEN 1 AND 1000),
  ADD CONSTRAINT "sources_waiting_for_check" CHECK ("waiting_for" IN ('backoff', 'quota', 'rate')),
  ADD CONSTRAINT "sources_consecutive_failures_check" CHECK ("consecutive_failures" >= 0),
  -- A lease is an owner and an expiry together, or neither.
  ADD CONSTRAINT "sources_lease_check" CHECK (("lease_owner" IS NULL) = ("lease_until" IS NULL));
