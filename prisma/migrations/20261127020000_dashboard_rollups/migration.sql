-- AlterTable
ALTER TABLE "rollup_counts" ADD COLUMN     "conflicts" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "invalid" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "rate_limited" BIGINT NOT NULL DEFAULT 0,
ADD COLUMN     "redelivered" BIGINT NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "backlog_samples" (
    "tenant_id" INTEGER NOT NULL,
    "minute" TIMESTAMPTZ(3) NOT NULL,
    "pending" INTEGER NOT NULL,
    "processing" INTEGER NOT NULL,
    "dead" INTEGER NOT NULL,
    "oldest_pending_age_ms" BIGINT,

    CONSTRAINT "backlog_samples_pkey" PRIMARY KEY ("tenant_id","minute")
);

-- AddForeignKey
ALTER TABLE "rollup_counts" ADD CONSTRAINT "rollup_counts_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "rollup_latency" ADD CONSTRAINT "rollup_latency_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "backlog_samples" ADD CONSTRAINT "backlog_samples_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Hand-written below.

-- Item search: by id prefix (the primary key serves it) or by name prefix, case-insensitively.
CREATE INDEX "items_name_search_idx" ON "items" ("tenant_id", lower("name") text_pattern_ops);

-- Ids compare by code point everywhere: the same order the application sorts
-- rows in for locking (server/core/lock-order.ts), and the order in which the
-- primary keys can serve keyset pages and id-prefix searches.
ALTER TABLE "item_refs" DROP CONSTRAINT "item_refs_tenant_id_item_id_fkey";
ALTER TABLE "items" ALTER COLUMN "item_id" TYPE TEXT COLLATE "C", ALTER COLUMN "event_id" TYPE TEXT COLLATE "C";
ALTER TABLE "item_refs" ALTER COLUMN "item_id" TYPE TEXT COLLATE "C", ALTER COLUMN "ref_id" TYPE TEXT COLLATE "C";
ALTER TABLE "item_refs" ADD CONSTRAINT "item_refs_tenant_id_item_id_fkey"
  FOREIGN KEY ("tenant_id", "item_id") REFERENCES "items"("tenant_id", "item_id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "events" ALTER COLUMN "event_id" TYPE TEXT COLLATE "C", ALTER COLUMN "item_id" TYPE TEXT COLLATE "C";
