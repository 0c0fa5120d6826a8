/**
 * The dashboard's series through the shared cache: closed stretches are read
 * from the database once, the open end every time, and a stretch that can
 * still change (an old event still pending) or did change (a replay retracted
 * counts in it) is never served stale. Each check compares the series with
 * the events table, the ground truth.
 */
import { describe, expect, it } from "vitest";
import { event, storeInInbox } from "../../test/events.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { processAll } from "../../test/worker.ts";
import { pool, transaction } from "../db.ts";
import { metrics } from "../metrics.ts";
import { replayDead } from "../worker/dead-letters.ts";
import { recordRollups } from "./rollups.ts";
import { getSeries } from "./series.ts";

const DAY = 86_400_000;

async function seriesLoads(): Promise<number> {
  return (await metrics.cacheLoads.get()).values.find((value) => value.labels.cache === "series")?.value ?? 0;
}

async function truth(tenantId: number, from: number, to: number) {
  const { rows } = await pool.query(
    `SELECT count(*) FILTER (WHERE received_at >= $2 AND received_at < $3)::int AS received,
            count(*) FILTER (WHERE outcome = 'applied' AND processed_at >= $2 AND processed_at < $3)::int AS applied,
            count(*) FILTER (WHERE outcome = 'dead' AND processed_at >= $2 AND processed_at < $3)::int AS dead
       FROM events WHERE tenant_id = $1`,
    [tenantId, new Date(from), new Date(to)],
  );
  return rows[0] as { received: number; applied: number; dead: number };
}

async function shown(tenantId: number) {
  const series = await getSeries(tenantId, { from: new Date(Date.now() - 30 * DAY), to: new Date(), bucket: "1h" });
  const { receivedCreated, receivedUpdated, receivedDeleted, applied, dead } = series.totals;
  return { series, totals: { received: receivedCreated + receivedUpdated + receivedDeleted, applied, dead } };
}

/** An event received and processed in the past, stored and counted as the workers would have. */
async function pastEvent(tenantId: number, eventId: string, daysAgo: number, outcome: "applied" | "dead"): Promise<void> {
  const receivedAt = new Date(Date.now() - daysAgo * DAY);
  const processedAt = new Date(receivedAt.getTime() + 1_000);
  const body = { type: "item.created", timestamp: receivedAt.toISOString(), data: { id: `item-${eventId}`, version: 1, name: "n" } };
  await transaction(async (tx) => {
    await tx.query(
      `INSERT INTO events (tenant_id, event_id, type, item_id, version, payload, payload_hash, source_timestamp, received_at, status, attempts, outcome, processed_at)
       VALUES ($1, $2, 'item.created', $3, 1, $4, '\\x00', $5, $5, $6, 3, $7, $8)`,
      [tenantId, eventId, `item-${eventId}`, JSON.stringify(body), receivedAt, outcome === "dead" ? "dead" : "done", outcome, processedAt],
    );
    await recordRollups(tx, [{ tenantId, type: "item.created", outcome, receivedAt, processedAt }]);
  });
}

describe("series through the cache", () => {
  it("reads a closed stretch from the database once, and the open end every time", async () => {
    const tenant = await createTestTenant();
    for (let day = 2; day <= 20; day += 3) await pastEvent(tenant.id, `past-${day}`, day, "applied");
    const before = await seriesLoads();
    const first = await shown(tenant.id);
    const loaded = (await seriesLoads()) - before;
    expect(loaded).toBeGreaterThan(0);

    // New traffic lands in the open end: it shows at once, and the closed stretch is not read again.
    await storeInInbox(tenant.id, [event("now-1", "item.created", "fresh", 1)]);
    await processAll();
    const second = await shown(tenant.id);
    expect((await seriesLoads()) - before).toBe(loaded);
    expect(second.totals).toEqual(await truth(tenant.id, second.series.from, second.series.to));
    expect(second.totals.applied).toBe(first.totals.applied + 1);
  });

  it("an old event still pending keeps its stretch open: once processed, its received count shows", async () => {
    const tenant = await createTestTenant();
    await pastEvent(tenant.id, "past-a", 20, "applied");
    await storeInInbox(tenant.id, [event("late", "item.created", "late-item", 1)]);
    // It arrived 12 days ago and is still waiting (a long outage of the workers, say).
    await pool.query("UPDATE events SET received_at = now() - interval '12 days' WHERE tenant_id = $1 AND event_id = 'late'", [tenant.id]);
    await shown(tenant.id);
    await processAll();
    const after = await shown(tenant.id);
    expect(after.totals).toEqual(await truth(tenant.id, after.series.from, after.series.to));
    expect(after.totals.received).toBe(2);
  });

  it("a replay of dead events drops the cached stretches its retracted counts sit in", async () => {
    const tenant = await createTestTenant();
    await pastEvent(tenant.id, "dead-1", 15, "dead");
    const cached = await shown(tenant.id);
    expect(cached.totals.dead).toBe(1);

    expect(await replayDead(tenant.id)).toBe(1);
    await processAll();
    const after = await shown(tenant.id);
    expect(after.totals).toEqual(await truth(tenant.id, after.series.from, after.series.to));
    expect(after.totals).toMatchObject({ dead: 0, applied: 1, received: 1 });
  });
});
