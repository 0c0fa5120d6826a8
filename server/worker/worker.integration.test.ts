/**
 * The worker end to end on the real database: stored events become item
 * state with one outcome each, and rollups count them once.
 */
import { afterEach, describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { modelState } from "../core/model.ts";
import { asStored, event, readItems, storeInInbox } from "../../test/events.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { Worker } from "./worker.ts";
import { unfinishedEvents, waitFor } from "../../test/worker.ts";

const settings = { concurrency: 2, quantum: 10, maxBatch: 50, leaseMs: 5_000, maxAttempts: 3, pollMs: 50 };
let worker: Worker | undefined;
afterEach(async () => worker?.stop(1_000));

describe("worker", () => {
  it("applies stored events to the model's state, each with one outcome", async () => {
    const tenant = await createTestTenant();
    const events = [
      event("e1", "item.created", "a", 1, { name: "A1", refs: ["b"] }),
      event("e2", "item.updated", "a", 2, { name: "A2", refs: ["c", "b"] }),
      event("e3", "item.deleted", "b", 5),
      event("e4", "item.created", "b", 1, { name: "B1" }),
      event("e5", "item.updated", "c", 3, { value: 7.5 }),
    ];
    await storeInInbox(tenant.id, events);
    worker = new Worker(settings);
    await worker.start();
    await waitFor(async () => (await unfinishedEvents()) === 0);

    expect(await readItems(tenant.id)).toEqual(asStored(modelState(events)));
    const { rows } = await pool.query("SELECT event_id, status, outcome FROM events WHERE tenant_id = $1 ORDER BY event_id", [tenant.id]);
    expect(rows).toEqual([
      { event_id: "e1", status: "done", outcome: expect.stringMatching(/^(applied|stale)$/) },
      { event_id: "e2", status: "done", outcome: "applied" },
      { event_id: "e3", status: "done", outcome: "applied" },
      { event_id: "e4", status: "done", outcome: "stale" },
      { event_id: "e5", status: "done", outcome: "applied" },
    ]);
    const { rows: rollup } = await pool.query(
      "SELECT sum(applied + stale + duplicate + rejected + dead)::int AS outcomes, sum(received_created + received_updated + received_deleted)::int AS received FROM rollup_counts WHERE tenant_id = $1 AND resolution = 60",
      [tenant.id],
    );
    expect(rollup[0]).toEqual({ outcomes: 5, received: 5 });
  });
});
