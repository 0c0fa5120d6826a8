/**
 * Alert rules and alerts for the admin CLI, the procedures and the overview:
 * set and remove a tenant's rules, list them with their state, the tenant's
 * alert history, and the firing alerts of many tenants at once.
 *
 * Guarantees:
 * - One rule per (tenant, rule name); setting it again changes the threshold
 *   and window and keeps its state (a firing alert stays open, and the next
 *   round judges it against the new threshold).
 * - Removing a rule that is firing resolves its alert in the same transaction
 *   (and queues its alert.resolved), so no receiver is left with an alert
 *   that can never resolve. Locks in the evaluator's order: alert_rules,
 *   alerts, alert_deliveries.
 * - The tenant is the caller's, already authorised (server/api/trpc.ts's
 *   ladder, or the CLI's lookup): every query here is scoped by its id.
 */
import { pool, sql, transaction, type Queryable } from "../db.ts";
import { AppError } from "../errors.ts";
import { ALERT_RULES, ruleSetting, ZAlertRuleName, ZSetAlertRuleInput, type AlertRuleName, type TSetAlertRuleInput } from "../schemas/alert.ts";
import { alertTargetIsSet, resolveAlert } from "./evaluate.ts";

export interface TenantRef {
  id: number;
  slug: string;
}

/** A rule as `alert set` and `alert list` print it; times are ISO 8601 strings. */
export interface AlertRuleView {
  tenant: string;
  rule: AlertRuleName;
  above: number;
  windowMs: number | null;
  state: "ok" | "firing";
  /** The value at the last evaluation; null before the first. */
  value: number | null;
  evaluatedAt: string | null;
  /** When the open alert fired; null when ok. */
  since: string | null;
}

export interface AlertHistoryEntry {
  id: number;
  rule: AlertRuleName;
  threshold: number;
  windowMs: number | null;
  firedAt: string;
  value: number;
  peakValue: number;
  resolvedAt: string | null;
  resolvedValue: number | null;
}

export interface FiringAlert {
  tenantId: number;
  tenant: string;
  rule: AlertRuleName;
  value: number;
  threshold: number;
  since: string;
}

const iso = (date: Date | null) => (date ? date.toISOString() : null);

interface RuleRow {
  rule: AlertRuleName;
  above: number;
  window_ms: number | null;
  last_value: number | null;
  evaluated_at: Date | null;
  fired_at: Date | null;
}

const RULES_OF_TENANT = `
SELECT r.rule, r.above, r.window_ms, r.last_value, r.evaluated_at, a.fired_at
  FROM alert_rules r
  LEFT JOIN alerts a ON a.tenant_id = r.tenant_id AND a.rule = r.rule AND a.resolved_at IS NULL
 WHERE r.tenant_id = $1`;

function view(tenant: TenantRef, row: RuleRow): AlertRuleView {
  return {
    tenant: tenant.slug,
    rule: row.rule,
    above: row.above,
    windowMs: row.window_ms,
    state: row.fired_at ? "firing" : "ok",
    value: row.last_value,
    evaluatedAt: iso(row.evaluated_at),
    since: iso(row.fired_at),
  };
}

/** The tenant's rules in the order of ALERT_RULES. */
export async function listAlertRules(tenant: TenantRef, on: Queryable = pool): Promise<AlertRuleView[]> {
  const rows = await sql<RuleRow>(on, RULES_OF_TENANT, [tenant.id]);
  return rows.sort((a, b) => ALERT_RULES.indexOf(a.rule) - ALERT_RULES.indexOf(b.rule)).map((row) => view(tenant, row));
}

/** Sets (creates or changes) one rule; returns it as `alert list` shows it. */
export async function setAlertRule(tenant: TenantRef, input: TSetAlertRuleInput): Promise<AlertRuleView> {
  const setting = ruleSetting(ZSetAlertRuleInput.parse(input));
  await sql(
    pool,
    `INSERT INTO alert_rules (tenant_id, rule, above, window_ms, updated_at) VALUES ($1, $2, $3, $4, now())
         ON CONFLICT (tenant_id, rule) DO UPDATE SET above = excluded.above, window_ms = excluded.window_ms, updated_at = now()`,
    [tenant.id, setting.rule, setting.above, setting.windowMs],
  );
  const rule = (await listAlertRules(tenant)).find((candidate) => candidate.rule === setting.rule);
  if (!rule) throw new AppError("conflict", `the ${setting.rule} rule of ${tenant.slug} was removed while it was being set`);
  return rule;
}

/** Removes one rule, resolving its alert if it is firing; not_found when the tenant has no such rule. */
export async function removeAlertRule(tenant: TenantRef, ruleName: AlertRuleName): Promise<{ tenant: string; rule: AlertRuleName; removed: true }> {
  const rule = ZAlertRuleName.parse(ruleName);
  await transaction(async (tx) => {
    const [removed] = await sql<{ above: number; last_value: number | null }>(
      tx,
      "DELETE FROM alert_rules WHERE tenant_id = $1 AND rule = $2 RETURNING above, last_value",
      [tenant.id, rule],
    );
    if (!removed) throw new AppError("not_found", `tenant ${JSON.stringify(tenant.slug)} has no ${rule} rule`);
    const [open] = await sql<{ id: number; fired_at: Date }>(tx, "SELECT id, fired_at FROM alerts WHERE tenant_id = $1 AND rule = $2 AND resolved_at IS NULL", [
      tenant.id,
      rule,
    ]);
    if (open) {
      const alert = { alertId: open.id, slug: tenant.slug, rule, threshold: removed.above, value: removed.last_value ?? 0, firedAt: open.fired_at };
      await resolveAlert(tx, alert, await alertTargetIsSet(tx));
    }
  });
  return { tenant: tenant.slug, rule, removed: true };
}

/** The tenant's alerts, newest first (firing ones included). */
export async function alertHistory(tenantId: number, limit = 50): Promise<AlertHistoryEntry[]> {
  const rows = await sql<{
    id: number;
    rule: AlertRuleName;
    threshold: number;
    window_ms: number | null;
    fired_at: Date;
    value: number;
    peak_value: number;
    resolved_at: Date | null;
    resolved_value: number | null;
  }>(
    pool,
    `SELECT id, rule, threshold, window_ms, fired_at, value, peak_value, resolved_at, resolved_value
       FROM alerts WHERE tenant_id = $1 ORDER BY fired_at DESC, id DESC LIMIT $2`,
    [tenantId, limit],
  );
  return rows.map((row) => ({
    id: row.id,
    rule: row.rule,
    threshold: row.threshold,
    windowMs: row.window_ms,
    firedAt: row.fired_at.toISOString(),
    value: row.value,
    peakValue: row.peak_value,
    resolvedAt: iso(row.resolved_at),
    resolvedValue: row.resolved_value,
  }));
}

/** The open alerts of these tenants, by tenant slug and rule, with each rule's last value. */
export async function firingAlerts(tenantIds: readonly number[]): Promise<FiringAlert[]> {
  if (tenantIds.length === 0) return [];
  const rows = await sql<{ tenant_id: number; slug: string; rule: AlertRuleName; value: number; threshold: number; fired_at: Date }>(
    pool,
    `SELECT a.tenant_id, t.slug, a.rule, coalesce(r.last_value, a.value) AS value, coalesce(r.above, a.threshold) AS threshold, a.fired_at
       FROM alerts a
       JOIN tenants t ON t.id = a.tenant_id
       LEFT JOIN alert_rules r ON r.tenant_id = a.tenant_id AND r.rule = a.rule
      WHERE a.tenant_id = ANY($1::int[]) AND a.resolved_at IS NULL
      ORDER BY t.slug, a.rule`,
    [[...tenantIds]],
  );
  return rows.map((row) => ({
    tenantId: row.tenant_id,
    tenant: row.slug,
    rule: row.rule,
    value: row.value,
    threshold: row.threshold,
    since: row.fired_at.toISOString(),
  }));
}

/**
 * How many alerts fire per tenant (tenants without one are absent), in one
 * index scan of the open alerts: for the overview to sort tenants by what
 * needs attention.
 */
export async function firingAlertCounts(tenantIds: readonly number[]): Promise<Map<number, number>> {
  if (tenantIds.length === 0) return new Map();
  const rows = await sql<{ tenant_id: number; firing: number }>(
    pool,
    "SELECT tenant_id, count(*)::int AS firing FROM alerts WHERE tenant_id = ANY($1::int[]) AND resolved_at IS NULL GROUP BY tenant_id",
    [[...tenantIds]],
  );
  return new Map(rows.map((row) => [row.tenant_id, row.firing]));
}
