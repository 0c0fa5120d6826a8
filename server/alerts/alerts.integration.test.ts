/**
 * Alerts on a real PostgreSQL with a real HTTP receiver that verifies every
 * delivery with the official `standardwebhooks` library: values from the
 * rollups and backlog, fire once and resolve once with hysteresis (and the
 * no-hysteresis control that flaps), one evaluator at a time (and the control
 * with the lock taken), deliveries retried until acknowledged with the same
 * webhook-id, in order, each acknowledged once.
 */
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startAlertReceiver, type AlertReceiver } from "../../test/alert-receiver.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { waitFor } from "../../test/worker.ts";
import { pool, transaction } from "../db.ts";
import { recordRollups, recordWebhookAnswers } from "../stats/rollups.ts";
import { updateQuotas } from "../tenants/service.ts";
import { DEFAULT_ALERT_RULES } from "../schemas/alert.ts";
import { deliverDueAlerts } from "./deliver.ts";
import { ALERT_LOCK_KEY, evaluateAlerts } from "./evaluate.ts";
import { measureRules, ruleKey } from "./measure.ts";
import { alertHistory, firingAlertCounts, firingAlerts, listAlertRules, removeAlertRule, setAlertRule } from "./rules.ts";
import { setAlertTarget } from "./target.ts";

const NOW = { resolveAfterMs: 0 };
const DELIVERY = { timeoutMs: 2_000, retryBaseMs: 10 };

/** `applied` processed events and `refused` 429s for the tenant, in the current minute, through the rollups' own writers. */
async function traffic(tenantId: number, applied: number, refused = 0, dead = 0): Promise<void> {
  const now = new Date();
  // Two transactions, as the worker and the webhook edge write them (each in the lock order).
  await transaction(async (tx) => {
    const processed = [
      ...Array.from({ length: applied }, () => ({ tenantId, type: "item.created" as const, outcome: "applied" as const, receivedAt: now, processedAt: now })),
      ...Array.from({ length: dead }, () => ({ tenantId, type: "item.created" as const, outcome: "dead" as const, receivedAt: now, processedAt: now })),
    ];
    await recordRollups(tx, processed);
  });
  if (refused > 0) await transaction((tx) => recordWebhookAnswers(tx, [{ tenantId, at: now, answer: "rateLimited", count: refused }]));
}

async function onlyRule(tenant: { id: number; slug: string }, rule: Parameters<typeof setAlertRule>[1]): Promise<void> {
  for (const { rule: name } of DEFAULT_ALERT_RULES) await removeAlertRule(tenant, name);
  await setAlertRule(tenant, rule);
}

async function alertsOf(tenantId: number) {
  return (
    await pool.query<{ fired_at: Date; resolved_at: Date | null }>("SELECT fired_at, resolved_at FROM alerts WHERE tenant_id = $1 ORDER BY id", [tenantId])
  ).rows;
}

/** Delivers until nothing is due or undelivered for `tenantId`'s alerts (retries come after a few ms). */
async function deliverAll(tenantId: number): Promise<void> {
  await waitFor(async () => {
    await deliverDueAlerts(DELIVERY);
    const { rows } = await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id WHERE a.tenant_id = $1 AND d.delivered_at IS NULL",
      [tenantId],
    );
    return rows[0]?.n === 0;
  }, 20_000);
}

let receiver: AlertReceiver;
beforeAll(async () => {
  receiver = await startAlertReceiver();
  receiver.secret = (await setAlertTarget(receiver.url)).secret;
});
afterAll(() => receiver.close());
beforeEach(async () => {
  // Each test judges the deliveries of its own alerts: what earlier tests left queued is set aside.
  await pool.query("UPDATE alert_deliveries SET delivered_at = now() WHERE delivered_at IS NULL");
  receiver.received.length = 0;
  receiver.failNext(0);
});

describe("rule values come from the rollups and the backlog", () => {
  it("refused-percent, dead, quota-forecast-percent, oldest-pending-ms and source-failing-ms", async () => {
    const tenant = await createTestTenant();
    await updateQuotas(tenant.slug, { dailyQuota: 1_000 });
    await traffic(tenant.id, 30, 10, 2);
    await pool.query(
      `INSERT INTO events (tenant_id, event_id, type, item_id, version, payload, payload_hash, source_timestamp, received_at)
       VALUES ($1, 'waiting', 'item.created', 'i', 1, '{}', '\\x00', now(), now() - interval '10 minutes')`,
      [tenant.id],
    );
    await pool.query(
      `INSERT INTO sources (tenant_id, url, interval_ms, page_size, consecutive_failures, last_success_at, updated_at)
       VALUES ($1, 'http://127.0.0.1:9/x', 1000, 10, 3, now() - interval '20 minutes', now())`,
      [tenant.id],
    );
    const rules = [
      { tenantId: tenant.id, rule: "refused-percent" as const, windowMs: 60_000 },
      { tenantId: tenant.id, rule: "dead" as const, windowMs: 60_000 },
      { tenantId: tenant.id, rule: "quota-forecast-percent" as const, windowMs: 60_000 },
      { tenantId: tenant.id, rule: "oldest-pending-ms" as const, windowMs: null },
      { tenantId: tenant.id, rule: "source-failing-ms" as const, windowMs: null },
    ];
    const values = await measureRules(pool, rules);
    // 10 refused of 30 applied + 2 dead received + 10 refused = 42 deliveries.
    expect(values.get(ruleKey(tenant.id, "refused-percent"))).toBeCloseTo((100 * 10) / 42, 6);
    expect(values.get(ruleKey(tenant.id, "dead"))).toBe(2);
    // 32 received today + 1 pending, plus 32 per (≤ 2 minutes) until midnight: far more than 1,000 unless midnight is near.
    const msLeft = new Date().setUTCHours(24, 0, 0, 0) - Date.now();
    const forecast = values.get(ruleKey(tenant.id, "quota-forecast-percent")) ?? 0;
    expect(forecast).toBeGreaterThanOrEqual(3.3);
    if (msLeft > 3_600_000) expect(forecast).toBeGreaterThan(100);
    expect(values.get(ruleKey(tenant.id, "oldest-pending-ms"))).toBeGreaterThan(599_000);
    expect(values.get(ruleKey(tenant.id, "source-failing-ms"))).toBeGreaterThan(1_199_000);

    // Outside the window, the rollups of another tenant and a paused source count for nothing.
    const other = await createTestTenant();
    await pool.query("UPDATE sources SET paused = true WHERE tenant_id = $1", [tenant.id]);
    const quiet = await measureRules(pool, [
      ...rules.map((r) => ({ ...r, tenantId: other.id })),
      { tenantId: tenant.id, rule: "source-failing-ms", windowMs: null },
    ]);
    expect([...quiet.values()]).toEqual([0, 0, 0, 0, 0, 0]);
    // Its default rules would fire in the other tests' rounds.
    await pool.query("DELETE FROM tenants WHERE id = ANY($1::int[])", [[tenant.id, other.id]]);
  });
});

describe("evaluation", () => {
  it("fires once and resolves once, with hysteresis: a value hovering at the threshold does not flap", async () => {
    const tenant = await createTestTenant();
    await onlyRule(tenant, { rule: "refused-percent", above: 20, windowMs: 60_000 });
    /** [alerts fired so far, alerts resolved so far] for this tenant, after one more round. */
    const afterRound = async () => {
      await evaluateAlerts(NOW);
      const alerts = await alertsOf(tenant.id);
      return [alerts.length, alerts.filter((a) => a.resolved_at !== null).length];
    };
    await traffic(tenant.id, 10, 10); // 50%
    expect(await afterRound()).toEqual([1, 0]);
    expect(await afterRound()).toEqual([1, 0]);
    expect((await listAlertRules(tenant))[0]).toMatchObject({ rule: "refused-percent", state: "firing", value: 50 });
    await traffic(tenant.id, 30); // 10 / 50 = 20%: not above, but not clear (≤ 16%) either
    expect(await afterRound()).toEqual([1, 0]);
    await traffic(tenant.id, 2); // 10 / 52 = 19.2%
    expect(await afterRound()).toEqual([1, 0]);
    await traffic(tenant.id, 13); // 10 / 65 = 15.4%: clear
    expect(await afterRound()).toEqual([1, 1]);
    expect(await afterRound()).toEqual([1, 1]);
    expect((await listAlertRules(tenant))[0]?.state).toBe("ok");
    const [entry] = await alertHistory(tenant.id);
    expect(entry).toMatchObject({ rule: "refused-percent", threshold: 20, value: 50, peakValue: 50, resolvedValue: 15.385 });
  });

  it("control: without hysteresis (resolve ratio 1) the same traffic fires twice", async () => {
    const tenant = await createTestTenant();
    await onlyRule(tenant, { rule: "refused-percent", above: 20, windowMs: 60_000 });
    const naive = { resolveAfterMs: 0, resolveRatio: 1 };
    await traffic(tenant.id, 10, 10);
    await evaluateAlerts(naive);
    await traffic(tenant.id, 30); // 20%: resolves at once
    await evaluateAlerts(naive);
    await pool.query("UPDATE rollup_counts SET rate_limited = rate_limited + 2 WHERE tenant_id = $1 AND resolution = 60", [tenant.id]); // 22%
    await evaluateAlerts(naive);
    expect(await alertsOf(tenant.id)).toHaveLength(2);
  });

  it("resolves only after the value stayed clear for resolveAfterMs", async () => {
    const tenant = await createTestTenant();
    await onlyRule(tenant, { rule: "dead", above: 0, windowMs: 60_000 });
    await traffic(tenant.id, 0, 0, 1);
    const slow = { resolveAfterMs: 60_000 };
    await evaluateAlerts(slow);
    expect(await alertsOf(tenant.id)).toHaveLength(1);
    // The dead event is replayed: the rollups take it back out (as retractDead does), and the value is 0.
    await pool.query("UPDATE rollup_counts SET dead = 0 WHERE tenant_id = $1", [tenant.id]);
    await evaluateAlerts(slow);
    expect((await alertsOf(tenant.id))[0]?.resolved_at).toBeNull();
    const [rule] = (await pool.query<{ clear_since: Date | null }>("SELECT clear_since FROM alert_rules WHERE tenant_id = $1", [tenant.id])).rows;
    expect(rule?.clear_since).not.toBeNull();
    await pool.query("UPDATE alert_rules SET clear_since = clear_since - interval '61 seconds' WHERE tenant_id = $1", [tenant.id]);
    await evaluateAlerts(slow);
    expect((await alertsOf(tenant.id))[0]?.resolved_at).not.toBeNull();
  });

  it("one evaluator at a time: concurrent rounds fire once; with the lock held elsewhere a round does nothing (control)", async () => {
    const tenant = await createTestTenant();
    await onlyRule(tenant, { rule: "dead", above: 0, windowMs: 60_000 });
    await traffic(tenant.id, 0, 0, 3);
    const holder = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await holder.connect();
    try {
      await holder.query("SELECT pg_advisory_lock($1)", [ALERT_LOCK_KEY]);
      expect(await evaluateAlerts(NOW)).toBeNull();
      expect(await alertsOf(tenant.id)).toHaveLength(0);
      await holder.query("SELECT pg_advisory_unlock($1)", [ALERT_LOCK_KEY]);
    } finally {
      await holder.end();
    }
    const rounds = await Promise.all(Array.from({ length: 6 }, () => evaluateAlerts(NOW)));
    // The rounds that found the lock taken did nothing (null); the alert fired once.
    expect(rounds.some((round) => round !== null)).toBe(true);
    expect(await alertsOf(tenant.id)).toHaveLength(1);
    expect(await firingAlertCounts([tenant.id])).toEqual(new Map([[tenant.id, 1]]));
  });

  it("removing a firing rule resolves its alert and queues its resolution", async () => {
    const tenant = await createTestTenant();
    await onlyRule(tenant, { rule: "dead", above: 0, windowMs: 60_000 });
    await traffic(tenant.id, 0, 0, 1);
    await evaluateAlerts(NOW);
    expect((await firingAlerts([tenant.id])).map((a) => a.rule)).toEqual(["dead"]);
    await removeAlertRule(tenant, "dead");
    expect(await firingAlerts([tenant.id])).toEqual([]);
    await expect(removeAlertRule(tenant, "dead")).rejects.toThrow(/has no dead rule/);
    await deliverAll(tenant.id);
    expect(receiver.acknowledged().map((r) => r.body?.type)).toEqual(["alert.firing", "alert.resolved"]);
  });
});

describe("delivery", () => {
  it("signed with Standard Webhooks, retried with the same webhook-id until 2xx, each firing and resolution acknowledged once, in order", async () => {
    const tenant = await createTestTenant();
    await onlyRule(tenant, { rule: "dead", above: 0, windowMs: 60_000 });
    await traffic(tenant.id, 0, 0, 4);
    receiver.failNext(3);
    await evaluateAlerts(NOW);
    await pool.query("UPDATE rollup_counts SET dead = 0 WHERE tenant_id = $1", [tenant.id]);
    await evaluateAlerts(NOW); // resolved while the firing is still being retried
    await deliverAll(tenant.id);
    for (let i = 0; i < 3; i++) await deliverDueAlerts(DELIVERY); // nothing more to send

    const ids = receiver.received.map((r) => r.webhookId);
    expect(receiver.received.every((r) => r.verified)).toBe(true);
    expect(receiver.received.map((r) => r.status)).toEqual([500, 500, 500, 204, 204]);
    expect(new Set(ids.slice(0, 4)).size).toBe(1);
    // Every retry sent the same bytes.
    expect(new Set(receiver.received.slice(0, 4).map((r) => r.raw)).size).toBe(1);
    const [firing, resolved] = receiver.acknowledged();
    expect(firing?.body).toEqual({
      type: "alert.firing",
      timestamp: firing?.body?.data.since,
      data: { tenant: tenant.slug, rule: "dead", value: 4, threshold: 0, since: expect.any(String) as string },
    });
    expect(resolved?.body).toMatchObject({
      type: "alert.resolved",
      data: { tenant: tenant.slug, rule: "dead", value: 0, threshold: 0, since: firing?.body?.data.since },
    });
    expect(Date.parse(resolved?.body?.timestamp ?? "")).toBeGreaterThanOrEqual(Date.parse(firing?.body?.data.since ?? ""));
    const { rows } = await pool.query<{ attempts: number }>(
      "SELECT d.attempts FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id WHERE a.tenant_id = $1 ORDER BY d.id",
      [tenant.id],
    );
    expect(rows.map((row) => row.attempts)).toEqual([4, 1]);
  });

  it("control: a receiver with another secret refuses every delivery, so nothing is acknowledged and it keeps retrying", async () => {
    const tenant = await createTestTenant();
    await onlyRule(tenant, { rule: "dead", above: 0, windowMs: 60_000 });
    await traffic(tenant.id, 0, 0, 1);
    await evaluateAlerts(NOW);
    const right = receiver.secret;
    receiver.secret = "whsec_" + Buffer.alloc(32, 7).toString("base64");
    try {
      for (let i = 0; i < 3; i++) {
        await deliverDueAlerts(DELIVERY);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(receiver.received.length).toBeGreaterThanOrEqual(2);
      expect(receiver.received.every((r) => !r.verified && r.status === 401)).toBe(true);
    } finally {
      receiver.secret = right;
    }
    await deliverAll(tenant.id);
    expect(receiver.acknowledged()).toHaveLength(1);
  });
});
