/**
 * The failure policy of processClaim, one behaviour per test, on the real
 * database. Failures are injected in the database itself (a trigger that
 * raises for one item), the way a real constraint or a bad row would fail.
 */
import { afterEach, describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { metrics } from "../metrics.ts";
import { event, readItems, storeInInbox } from "../../test/events.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { replayDead } from "./dead-letters.ts";
import { applyClaim, processClaim } from "./process.ts";
import { reapExpiredLeases } from "./reaper.ts";
import { claimNext } from "./scheduler.ts";

const settings = { quantum: 100, maxBatch: 100, leaseMs: 30_000 };
const policy = { maxAttempts: 3, transientRetries: 3, random: () => 0 };

let poisonCount = 0;

/**
 * Makes the next `times` writes of `itemId` fail with `sqlstate`. The count
 * is a sequence because nextval is not rolled back with the failing
 * transaction (a counter in a table would be).
 */
async function poisonItem(itemId: string, sqlstate = "P0001", times = 1_000_000): Promise<void> {
  const sequence = `poison_calls_${++poisonCount}`;
  await pool.query(`CREATE SEQUENCE ${sequence}`);
  await pool.query(`CREATE TABLE IF NOT EXISTS poison_budget (item_id text PRIMARY KEY, calls text NOT NULL, times int NOT NULL)`);
  await pool.query(`INSERT INTO poison_budget VALUES ($1, $2, $3) ON CONFLICT (item_id) DO UPDATE SET calls = excluded.calls, times = excluded.times`, [
    itemId,
    sequence,
    times,
  ]);
  await pool.query(`
    CREATE OR REPLACE FUNCTION poison_items() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE budget poison_budget%ROWTYPE;
    BEGIN
      SELECT * INTO budget FROM poison_budget WHERE item_id = NEW.item_id;
      IF FOUND AND nextval(budget.calls::regclass) <= budget.times THEN
        RAISE EXCEPTION 'poisoned item %', NEW.item_id USING ERRCODE = '${sqlstate}';
      END IF;
      RETURN NEW;
    END $$`);
  await pool.query(`DROP TRIGGER IF EXISTS poison_items ON items`);
  await pool.query(`CREATE TRIGGER poison_items BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION poison_items()`);
}

async function statusOf(tenantId: number): Promise<Record<string, { status: string; outcome: string | null; attempts: number; last_error: string | null }>> {
  const { rows } = await pool.query("SELECT event_id, status, outcome, attempts, last_error FROM events WHERE tenant_id = $1", [tenantId]);
  return Object.fromEntries(
    rows.map((row) => [row.event_id, { status: row.status, outcome: row.outcome, attempts: row.attempts, last_error: row.last_error }]),
  );
}

async function claimFor(tenantId: number) {
  const claim = await claimNext(settings);
  expect(claim?.tenantIds).toEqual([tenantId]);
  return claim as NonNullable<typeof claim>;
}

async function makeDue(tenantId: number): Promise<void> {
  await pool.query("UPDATE events SET available_at = now() WHERE tenant_id = $1 AND status = 'pending'", [tenantId]);
}

describe("processClaim", () => {
  // claimNext picks among all tenants: each test starts with none left over.
  afterEach(async () => {
    await pool.query("DROP TRIGGER IF EXISTS poison_items ON items");
    await pool.query("DROP TABLE IF EXISTS poison_budget");
    await pool.query("DELETE FROM tenants");
  });

  it("a poison event does not sink its batch: the others apply, it is retried alone", async () => {
    const tenant = await createTestTenant();
    await poisonItem("poison-1");
    await storeInInbox(tenant.id, [event("ok-1", "item.created", "a", 1), event("bad", "item.created", "poison-1", 1), event("ok-2", "item.created", "b", 1)]);
    await processClaim(await claimFor(tenant.id), policy);
    const status = await statusOf(tenant.id);
    expect(status["ok-1"]).toMatchObject({ status: "done", outcome: "applied" });
    expect(status["ok-2"]).toMatchObject({ status: "done", outcome: "applied" });
    expect(status.bad).toMatchObject({ status: "pending", outcome: null, attempts: 1 });
    expect(status.bad?.last_error).toContain("poisoned item poison-1");
    expect([...(await readItems(tenant.id)).keys()].sort()).toEqual(["a", "b"]);
  });

  it("after its last attempt a failing event is dead, keeps its error, and is counted once", async () => {
    const tenant = await createTestTenant();
    await poisonItem("poison-2");
    await storeInInbox(tenant.id, [event("bad", "item.created", "poison-2", 1)]);
    for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
      await makeDue(tenant.id);
      await processClaim(await claimFor(tenant.id), policy);
    }
    const status = await statusOf(tenant.id);
    expect(status.bad).toMatchObject({ status: "dead", outcome: "dead", attempts: 3 });
    expect(status.bad?.last_error).toContain("poisoned item poison-2");
    const { rows } = await pool.query("SELECT sum(dead)::int AS dead FROM rollup_counts WHERE tenant_id = $1 AND resolution = 60", [tenant.id]);
    expect(rows[0].dead).toBe(1);
  });

  it("a retry waits: the backoff makes a failed event not due at once", async () => {
    const tenant = await createTestTenant();
    await poisonItem("poison-3");
    await storeInInbox(tenant.id, [event("bad", "item.created", "poison-3", 1)]);
    await processClaim(await claimFor(tenant.id), { ...policy, random: () => 0.999 });
    const { rows } = await pool.query("SELECT available_at > now() + interval '1 second' AS later FROM events WHERE tenant_id = $1", [tenant.id]);
    expect(rows[0].later).toBe(true);
    expect(await claimNext(settings)).toBeNull();
  });

  it("a replayed dead event is applied, and the rollups count it once", async () => {
    const tenant = await createTestTenant();
    await poisonItem("poison-4", "P0001", policy.maxAttempts);
    await storeInInbox(tenant.id, [event("bad", "item.created", "poison-4", 1)]);
    for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
      await makeDue(tenant.id);
      await processClaim(await claimFor(tenant.id), policy);
    }
    expect((await statusOf(tenant.id)).bad?.status).toBe("dead");

    expect(await replayDead(tenant.id)).toBe(1);
    expect((await statusOf(tenant.id)).bad).toMatchObject({ status: "pending", outcome: null, attempts: 0 });
    await processClaim(await claimFor(tenant.id), policy);
    expect((await statusOf(tenant.id)).bad).toMatchObject({ status: "done", outcome: "applied" });
    const { rows } = await pool.query(
      "SELECT sum(dead)::int AS dead, sum(applied)::int AS applied, sum(received_created)::int AS received FROM rollup_counts WHERE tenant_id = $1 AND resolution = 60",
      [tenant.id],
    );
    expect(rows[0]).toEqual({ dead: 0, applied: 1, received: 1 });
  });

  it("a transient error (deadlock) is retried in place, counted, and the batch applies", async () => {
    const tenant = await createTestTenant();
    await poisonItem("flaky", "40P01", 2);
    await storeInInbox(tenant.id, [event("e1", "item.created", "flaky", 1), event("e2", "item.created", "other", 1)]);
    const before = (await metrics.transientRetries.get()).values.find((v) => v.labels.sqlstate === "40P01")?.value ?? 0;
    await processClaim(await claimFor(tenant.id), policy);
    const status = await statusOf(tenant.id);
    expect(status.e1).toMatchObject({ status: "done", outcome: "applied", attempts: 1 });
    expect(status.e2).toMatchObject({ status: "done", outcome: "applied", attempts: 1 });
    const after = (await metrics.transientRetries.get()).values.find((v) => v.labels.sqlstate === "40P01")?.value ?? 0;
    expect(after - before).toBe(2);
  });

  it("one claim serves the visits of many small tenants in ring order, applied in one transaction", async () => {
    const tenants = [];
    for (let i = 0; i < 5; i++) {
      const tenant = await createTestTenant();
      await storeInInbox(tenant.id, [event(`e${i}`, "item.created", "shared-id", 1, { name: `t${i}` })]);
      tenants.push(tenant.id);
    }
    const claim = await claimNext(settings);
    expect(claim?.tenantIds).toEqual(tenants);
    expect(await applyClaim(claim as NonNullable<typeof claim>)).toBe(5);
    const { rows } = await pool.query("SELECT tenant_id, name FROM items WHERE item_id = 'shared-id' ORDER BY tenant_id");
    expect(rows).toEqual(tenants.map((tenantId, i) => ({ tenant_id: tenantId, name: `t${i}` })));
  });

  it("a stored payload that fails validation is rejected, not retried", async () => {
    const tenant = await createTestTenant();
    await pool.query(
      `INSERT INTO events (tenant_id, event_id, type, item_id, version, payload, payload_hash, source_timestamp)
       VALUES ($1, 'broken', 'item.created', 'x', 1, '{"type":"item.created","data":{"id":"x"}}', '\\x00', now())`,
      [tenant.id],
    );
    await processClaim(await claimFor(tenant.id), policy);
    const status = await statusOf(tenant.id);
    expect(status.broken).toMatchObject({ status: "done", outcome: "rejected", attempts: 1 });
    expect(status.broken?.last_error).toMatch(/timestamp|version/);
  });

  it("a claim whose lease expired and was taken over applies nothing: no event is applied twice", async () => {
    const tenant = await createTestTenant();
    await storeInInbox(tenant.id, [event("e1", "item.created", "a", 1), event("e2", "item.created", "b", 1)]);
    const stalled = await claimNext({ ...settings, leaseMs: 500 });
    expect(stalled).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await reapExpiredLeases()).toBe(2);

    const takeover = await claimFor(tenant.id);
    expect(await applyClaim(takeover)).toBe(2);
    // The stalled worker wakes up and tries to finish: its claim is no longer its own.
    expect(await applyClaim(stalled as NonNullable<typeof stalled>)).toBe(0);
    const { rows } = await pool.query("SELECT sum(applied)::int AS applied FROM rollup_counts WHERE tenant_id = $1 AND resolution = 60", [tenant.id]);
    expect(rows[0].applied).toBe(2);
    // The expired lease spent no attempt: only the takeover's, which ended, counts.
    expect((await statusOf(tenant.id)).e1).toMatchObject({ status: "done", outcome: "applied", attempts: 1 });
  });
});
