/**
 * The alert evaluator: one round compares every rule's value
 * (server/alerts/measure.ts) with its threshold and records what changed.
 *
 * Guarantees:
 * - One round at a time across all processes: the round is one transaction
 *   that first tries a transaction-level advisory lock and, when another
 *   process holds it, does nothing (any process may run the evaluator; the
 *   lock is released by the commit or by the death of the connection).
 * - Fires once: a rule fires when its value is above its threshold and it has
 *   no open alert; the partial unique index alerts_open_idx allows one open
 *   alert per (tenant, rule), so not even a bug could fire it twice.
 * - Resolves once, with hysteresis: an open alert resolves only when the value
 *   has stayed at or below threshold × RESOLVE_RATIO (server/schemas/alert.ts)
 *   for resolveAfterMs (rule.clear_since records since when); a value above
 *   that level restarts the wait. Resolving sets resolved_at, which only a
 *   round that sees it open can do.
 * - Each firing and each resolution writes its outbox row (alert_deliveries,
 *   unique per alert and type) in the same transaction as the state change,
 *   when a target is set: the delivery is neither lost nor doubled by a crash.
 * - Lock order: alert_rules (FOR UPDATE, by tenant and rule), then alerts,
 *   then alert_deliveries — the order removeAlertRule follows too.
 * - History stays: alerts rows are never deleted (except with their tenant).
 */
import { sql, transaction, type Queryable, type Tx } from "../db.ts";
import { RESOLVE_RATIO, type AlertRuleName } from "../schemas/alert.ts";
import { measureRules, ruleKey } from "./measure.ts";

/** Arbitrary but fixed, beside the migration (…331), seed (…332), claim (…333) and retention (…334) locks. */
export const ALERT_LOCK_KEY = 7_204_118_335;

export type AlertEventType = "alert.firing" | "alert.resolved";

export interface AlertRound {
  rules: number;
  fired: number;
  resolved: number;
}

interface RuleRow {
  tenant_id: number;
  slug: string;
  rule: AlertRuleName;
  above: number;
  window_ms: number | null;
  clear_since: Date | null;
  alert_id: number | null;
  fired_at: Date | null;
}

/** Values in alert bodies and state: three decimals are plenty for ms, counts and percentages. */
const rounded = (value: number) => Math.round(value * 1000) / 1000;

export interface EvaluationOptions {
  resolveAfterMs: number;
  /** RESOLVE_RATIO unless a test sets another (1: no hysteresis, the control that flaps). */
  resolveRatio?: number;
}

/** The exact body of an alert delivery (the contract in docs/design.md, "Alerts"). */
export function alertBody(type: AlertEventType, at: Date, data: { tenant: string; rule: string; value: number; threshold: number; since: Date }): string {
  return JSON.stringify({
    type,
    timestamp: at.toISOString(),
    data: { tenant: data.tenant, rule: data.rule, value: rounded(data.value), threshold: data.threshold, since: data.since.toISOString() },
  });
}

/** The webhook-id of an alert's delivery: one per alert and type, the same on every retry. */
export const alertWebhookId = (alertId: number, type: AlertEventType) => `alert_${alertId}_${type === "alert.firing" ? "firing" : "resolved"}`;

/** True when an alert target is set: only then are deliveries queued. */
export async function alertTargetIsSet(on: Queryable): Promise<boolean> {
  return (await sql(on, "SELECT 1 FROM alert_target WHERE id = 1")).length > 0;
}

async function enqueue(tx: Tx, alertId: number, type: AlertEventType, body: string): Promise<void> {
  await sql(tx, "INSERT INTO alert_deliveries (alert_id, type, webhook_id, body) VALUES ($1, $2, $3, $4) ON CONFLICT (alert_id, type) DO NOTHING", [
    alertId,
    type,
    alertWebhookId(alertId, type),
    body,
  ]);
}

/** Resolves the open alert `alertId` at the transaction's now(), and queues its alert.resolved when a target is set. */
export async function resolveAlert(
  tx: Tx,
  alert: { alertId: number; slug: string; rule: string; threshold: number; value: number; firedAt: Date },
  deliver: boolean,
): Promise<boolean> {
  const [row] = await sql<{ resolved_at: Date }>(
    tx,
    "UPDATE alerts SET resolved_at = now(), resolved_value = $2 WHERE id = $1 AND resolved_at IS NULL RETURNING resolved_at",
    [alert.alertId, rounded(alert.value)],
  );
  if (!row) return false;
  if (deliver) {
    const body = alertBody("alert.resolved", row.resolved_at, {
      tenant: alert.slug,
      rule: alert.rule,
      value: alert.value,
      threshold: alert.threshold,
      since: alert.firedAt,
    });
    await enqueue(tx, alert.alertId, "alert.resolved", body);
  }
  return true;
}

/** Runs one round; null when another process holds the evaluator's lock. */
export async function evaluateAlerts(options: EvaluationOptions): Promise<AlertRound | null> {
  const resolveRatio = options.resolveRatio ?? RESOLVE_RATIO;
  return transaction(async (tx) => {
    const [lock] = await sql<{ locked: boolean }>(tx, "SELECT pg_try_advisory_xact_lock($1) AS locked", [ALERT_LOCK_KEY]);
    if (!lock?.locked) return null;
    const [clock] = await sql<{ now: Date }>(tx, "SELECT now() AS now");
    const now = (clock as { now: Date }).now;
    const rules = await sql<RuleRow>(
      tx,
      `SELECT r.tenant_id, t.slug, r.rule, r.above, r.window_ms, r.clear_since, a.id AS alert_id, a.fired_at
         FROM alert_rules r
         JOIN tenants t ON t.id = r.tenant_id
         LEFT JOIN alerts a ON a.tenant_id = r.tenant_id AND a.rule = r.rule AND a.resolved_at IS NULL
        ORDER BY r.tenant_id, r.rule
          FOR UPDATE OF r`,
    );
    const round: AlertRound = { rules: rules.length, fired: 0, resolved: 0 };
    if (rules.length === 0) return round;
    const values = await measureRules(
      tx,
      rules.map((r) => ({ tenantId: r.tenant_id, rule: r.rule, windowMs: r.window_ms })),
    );
    const deliver = await alertTargetIsSet(tx);

    const states: { tenantId: number; rule: string; value: number; clearSince: Date | null }[] = [];
    const stillFiring: { alertId: number; value: number }[] = [];
    for (const r of rules) {
      const value = values.get(ruleKey(r.tenant_id, r.rule)) ?? 0;
      let clearSince: Date | null = null;
      if (r.alert_id === null) {
        if (value > r.above) {
          const [fired] = await sql<{ id: number }>(
            tx,
            "INSERT INTO alerts (tenant_id, rule, threshold, window_ms, fired_at, value, peak_value) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            [r.tenant_id, r.rule, r.above, r.window_ms, now, rounded(value)],
          );
          const alertId = (fired as { id: number }).id;
          if (deliver) {
            const body = alertBody("alert.firing", now, { tenant: r.slug, rule: r.rule, value, threshold: r.above, since: now });
            await enqueue(tx, alertId, "alert.firing", body);
          }
          round.fired++;
        }
      } else if (value <= r.above * resolveRatio) {
        clearSince = r.clear_since ?? now;
        const firedAt = r.fired_at as Date;
        if (now.getTime() - clearSince.getTime() >= options.resolveAfterMs) {
          if (await resolveAlert(tx, { alertId: r.alert_id, slug: r.slug, rule: r.rule, threshold: r.above, value, firedAt }, deliver)) round.resolved++;
          clearSince = null;
        } else stillFiring.push({ alertId: r.alert_id, value });
      } else stillFiring.push({ alertId: r.alert_id, value });
      states.push({ tenantId: r.tenant_id, rule: r.rule, value: rounded(value), clearSince });
    }

    if (stillFiring.length > 0) {
      await sql(
        tx,
        `UPDATE alerts a SET peak_value = greatest(a.peak_value, u.value)
           FROM unnest($1::bigint[], $2::float8[]) AS u (id, value) WHERE a.id = u.id`,
        [stillFiring.map((s) => s.alertId), stillFiring.map((s) => rounded(s.value))],
      );
    }
    await sql(
      tx,
      `UPDATE alert_rules r SET last_value = u.value, evaluated_at = $5, clear_since = u.clear_since
         FROM unnest($1::int[], $2::text[], $3::float8[], $4::timestamptz[]) AS u (tenant_id, rule, value, clear_since)
        WHERE r.tenant_id = u.tenant_id AND r.rule = u.rule`,
      [states.map((s) => s.tenantId), states.map((s) => s.rule), states.map((s) => s.value), states.map((s) => s.clearSince), now],
    );
    return round;
  });
}
