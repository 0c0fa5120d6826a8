/**
 * Rollups reconcile with the events they count: per tenant and per bucket,
 * counts by outcome and by received type equal the events table's, and the
 * sketch's p50/p95/p99 are within 1% of the exact quantiles of the recorded
 * latencies; and the rollups the worker's finishing statement adds in SQL
 * equal those the application adds for the same events.
 */
import { describe, expect, it } from "vitest";
import { pool, sql, transaction } from "../db.ts";
import { OUTCOMES, type Outcome } from "../core/event.ts";
import { lockSteps } from "../core/lock-order.ts";
import { recordRollups, rollupsOf } from "./rollups.ts";
import { event, storeInInbox, type TestEvent } from "../../test/events.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { processAll } from "../../test/worker.ts";
import { MIN_TRACKED_MS, RELATIVE_ACCURACY, quantile } from "./latency-sketch.ts";

function mixedHistory(tag: string, count: number): TestEvent[] {
  const events: TestEvent[] = [];
  for (let i = 0; i < count; i++) {
    const item = `item-${i % 50}`;
    const version = 1 + (i % 7);
    const type = (["item.created", "item.updated", "item.deleted"] as const)[i % 3] as TestEvent["body"]["type"];
    events.push(event(`${tag}-${i}`, type, item, version, { name: `n${i % 4}` }));
  }
  return events;
}

describe("rollups", () => {
  it("reconcile with the events table, per tenant, outcome and bucket", async () => {
    const tenants = [await createTestTenant(), await createTestTenant()];
    for (const [i, tenant] of tenants.entries()) {
      // Delivered in several waves, so events land in different minutes' worth of batches.
      const events = mixedHistory(`t${i}`, 1_500);
      for (let wave = 0; wave < 3; wave++)
        await storeInInbox(
          tenant.id,
          events.filter((_, j) => j % 3 === wave),
        );
      await pool.query(
        `INSERT INTO events (tenant_id, event_id, type, item_id, version, payload, payload_hash, source_timestamp)
         VALUES ($1, 'broken', 'item.updated', 'x', 1, '{"type":"item.updated"}', '\\x00', now())`,
        [tenant.id],
      );
    }
    await processAll({ quantum: 37, maxBatch: 37 });

    for (const resolution of [60, 3_600]) {
      const { rows: fromEvents } = await pool.query(
        `SELECT tenant_id, bucket, sum(applied)::int AS applied, sum(stale)::int AS stale, sum(duplicate)::int AS duplicate,
                sum(rejected)::int AS rejected, sum(dead)::int AS dead
           FROM (SELECT tenant_id, to_timestamp(floor(extract(epoch FROM processed_at) / $1) * $1) AS bucket,
                        (outcome = 'applied')::int AS applied, (outcome = 'stale')::int AS stale, (outcome = 'duplicate')::int AS duplicate,
                        (outcome = 'rejected')::int AS rejected, (outcome = 'dead')::int AS dead
                   FROM events) e
          GROUP BY tenant_id, bucket ORDER BY tenant_id, bucket`,
        [resolution],
      );
      const { rows: fromRollups } = await pool.query(
        `SELECT tenant_id, bucket, applied::int, stale::int, duplicate::int, rejected::int, dead::int
           FROM rollup_counts
          WHERE resolution = $1 AND applied + stale + duplicate + rejected + dead > 0
          ORDER BY tenant_id, bucket`,
        [resolution],
      );
      expect(fromRollups).toEqual(fromEvents);

      const { rows: receivedEvents } = await pool.query(
        `SELECT tenant_id, to_timestamp(floor(extract(epoch FROM received_at) / $1) * $1) AS bucket,
                count(*) FILTER (WHERE type = 'item.created')::int AS created,
                count(*) FILTER (WHERE type = 'item.updated')::int AS updated,
                count(*) FILTER (WHERE type = 'item.deleted')::int AS deleted
           FROM events GROUP BY 1, 2 ORDER BY 1, 2`,
        [resolution],
      );
      const { rows: receivedRollups } = await pool.query(
        `SELECT tenant_id, bucket, received_created::int AS created, received_updated::int AS updated, received_deleted::int AS deleted
           FROM rollup_counts
          WHERE resolution = $1 AND received_created + received_updated + received_deleted > 0
          ORDER BY 1, 2`,
        [resolution],
      );
      expect(receivedRollups).toEqual(receivedEvents);
    }
    // The fixture produced every kind of outcome it can, so the comparison above covered them.
    const { rows: kinds } = await pool.query("SELECT DISTINCT outcome FROM events ORDER BY outcome");
    expect(kinds.map((row) => row.outcome)).toEqual(["applied", "duplicate", "rejected", "stale"]);
  });

  it("answer p50, p95 and p99 within 1% of the exact latency quantiles", async () => {
    const tenant = await createTestTenant();
    await storeInInbox(tenant.id, mixedHistory("lat", 3_000));
    await processAll({ quantum: 37, maxBatch: 37 });

    const { rows: latencies } = await pool.query<{ ms: number }>(
      `SELECT greatest(extract(epoch FROM processed_at - received_at) * 1000, $2)::float8 AS ms
         FROM events WHERE tenant_id = $1 AND outcome <> 'dead' ORDER BY 1`,
      [tenant.id, MIN_TRACKED_MS],
    );
    const { rows: bins } = await pool.query<{ bin: number; count: number }>(
      "SELECT bin, sum(count)::int AS count FROM rollup_latency WHERE tenant_id = $1 AND resolution = 60 GROUP BY bin",
      [tenant.id],
    );
    const values = latencies.map((row) => row.ms);
    expect(values.length).toBe(3_000);
    for (const q of [0.5, 0.95, 0.99]) {
      const exact = values[Math.floor(q * (values.length - 1))] as number;
      const estimate = quantile(
        bins.map((row) => [row.bin, row.count]),
        q,
      ) as number;
      expect(Math.abs(estimate - exact) / exact, `p${q * 100}: sketch ${estimate} vs exact ${exact}`).toBeLessThanOrEqual(RELATIVE_ACCURACY);
    }
  });

  it("are the same whether the application adds them (recordRollups) or the finishing statement does (rollupsOf)", async () => {
    // Two tenants get the same finished events: one through each path. Latencies from 0 ms to hours, every
    // outcome, received and processed in different buckets of both resolutions.
    const [byApp, bySql] = [await createTestTenant(), await createTestTenant()];
    const types = ["item.created", "item.updated", "item.deleted"] as const;
    const start = Date.UTC(2026, 10, 30, 23, 58, 17, 123);
    const finished = Array.from({ length: 4_000 }, (_, i) => {
      const receivedAt = new Date(start + i * 997);
      const latencyMs = i % 11 === 0 ? 0 : Math.floor((i * 7_919) % 100_003) * (i % 5 === 0 ? 60 : 1);
      return {
        type: types[i % 3] as (typeof types)[number],
        outcome: OUTCOMES[i % OUTCOMES.length] as Outcome,
        receivedAt,
        processedAt: new Date(receivedAt.getTime() + latencyMs),
      };
    });
    await transaction((tx) =>
      recordRollups(
        tx,
        finished.map((event) => ({ tenantId: byApp.id, ...event })),
      ),
    );
    await transaction(async (tx) => {
      lockSteps(tx).enter("rollup_counts");
      lockSteps(tx).enter("rollup_latency");
      await sql(
        tx,
        `WITH finished AS (SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[]) AS f(tenant_id, type, outcome, received_at, processed_at)),
         ${rollupsOf("finished")}
         SELECT 1`,
        [
          finished.map(() => bySql.id),
          finished.map((event) => event.type),
          finished.map((event) => event.outcome),
          finished.map((event) => event.receivedAt),
          finished.map((event) => event.processedAt),
        ],
      );
    });

    const rowsOf = async (table: "rollup_counts" | "rollup_latency", tenantId: number) =>
      (await pool.query(`SELECT * FROM ${table} WHERE tenant_id = $1 ORDER BY 2, 3${table === "rollup_latency" ? ", 4" : ""}`, [tenantId])).rows.map(
        ({ tenant_id: _, ...row }: Record<string, unknown>) => row,
      );
    const counts = await rowsOf("rollup_counts", byApp.id);
    expect(counts.length).toBeGreaterThan(100);
    expect(await rowsOf("rollup_counts", bySql.id)).toEqual(counts);
    const bins = await rowsOf("rollup_latency", byApp.id);
    expect(bins.length).toBeGreaterThan(1_000);
    expect(await rowsOf("rollup_latency", bySql.id)).toEqual(bins);
  });
});
