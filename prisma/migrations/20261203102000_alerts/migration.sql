-- Alerts (server/alerts; docs/design.md, "Alerts"): the target, per-tenant rules,
-- the alerts themselves (state and history) and the delivery outbox.
-- CreateTable
CREATE TABLE "alert_target" (
    "id" SMALLINT NOT NULL DEFAULT 1,
    "url" TEXT NOT NULL,
    "secret" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "alert_target_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "alert_rules" (
    "tenant_id" INTEGER NOT NULL,
    "rule" TEXT NOT NULL,
    "above" DOUBLE PRECISION NOT NULL,
    "window_ms" INTEGER,
    "last_value" DOUBLE PRECISION,
    "evaluated_at" TIMESTAMPTZ(3),
    "clear_since" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "alert_rules_pkey" PRIMARY KEY ("tenant_id","rule")
);

-- CreateTable
CREATE TABLE "alerts" (
    "id" BIGSERIAL NOT NULL,
    "tenant_id" INTEGER NOT NULL,
    "rule" TEXT NOT NULL,
    "threshold" DOUBLE PRECISION NOT NULL,
    "window_ms" INTEGER,
    "fired_at" TIMESTAMPTZ(3) NOT NULL,
    "value" DOUBLE PRECISION NOT NULL,
    "peak_value" DOUBLE PRECISION NOT NULL,
    "resolved_at" TIMESTAMPTZ(3),
    "resolved_value" DOUBLE PRECISION,

    CONSTRAINT "alerts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "alert_deliveries" (
    "id" BIGSERIAL NOT NULL,
    "alert_id" BIGINT NOT NULL,
    "type" TEXT NOT NULL,
    "webhook_id" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "delivered_at" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "alert_deliveries_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "alerts_tenant_id_fired_at_idx" ON "alerts"("tenant_id", "fired_at");

-- CreateIndex
CREATE UNIQUE INDEX "alert_deliveries_webhook_id_key" ON "alert_deliveries"("webhook_id");

-- CreateIndex
CREATE UNIQUE INDEX "alert_deliveries_alert_id_type_key" ON "alert_deliveries"("alert_id", "type");

-- AddForeignKey
ALTER TABLE "alert_rules" ADD CONSTRAINT "alert_rules_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "alert_deliveries" ADD CONSTRAINT "alert_deliveries_alert_id_fkey" FOREIGN KEY ("alert_id") REFERENCES "alerts"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- What the evaluator and the outbox rely on, enforced where no code path can skip it.
ALTER TABLE "alert_target" ADD CONSTRAINT "alert_target_one_row_check" CHECK ("id" = 1);
ALTER TABLE "alert_rules"
  ADD CONSTRAINT "alert_rules_rule_check" CHECK ("rule" IN ('oldest-pending-ms', 'dead', 'refused-percent', 'quota-forecast-percent', 'source-failing-ms')),
  ADD CONSTRAINT "alert_rules_above_check" CHECK ("above" >= 0),
  ADD CONSTRAINT "alert_rules_window_ms_check" CHECK ("window_ms" > 0);
ALTER TABLE "alert_deliveries"
  ADD CONSTRAINT "alert_deliveries_type_check" CHECK ("type" IN ('alert.firing', 'alert.resolved'));

-- Fires once: at most one open (unresolved) alert per tenant and rule.
CREATE UNIQUE INDEX "alerts_open_idx" ON "alerts" ("tenant_id", "rule") WHERE "resolved_at" IS NULL;
-- The outbox's due rows, in order: what the delivery loop scans.
CREATE INDEX "alert_deliveries_due_idx" ON "alert_deliveries" ("next_attempt_at", "id") WHERE "delivered_at" IS NULL;
