/**
 * A tenant by itself fills the batch (tidemark_claim, ALONE_MS): when no
 * other tenant has pending events and none was served within ALONE_MS, its
 * visit takes the claim's whole batch limit instead of one quantum; as soon
 * as another tenant is pending or was served lately, visits are one quantum
 * again. Each case is next to its control, on the real claim function.
 */
import { afterEach, describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { bulkPending } from "../../test/events.ts";
import { createTestTenant } from "../../test/webhooks.ts";
import { applyClaim, giveBack } from "./process.ts";
import { claimNext, type Claim } from "./scheduler.ts";
import { ALONE_MS } from "./inbox.ts";

const QUANTUM = 50;
const LIMIT = 400;
const claimOnce = () => claimNext({ quantum: QUANTUM, maxBatch: LIMIT, leaseMs: 30_000 });

const open: Claim[] = [];
async function claimed(): Promise<Claim> {
  const claim = await claimOnce();
  expect(claim).not.toBeNull();
  open.push(claim as Claim);
  return claim as Claim;
}

afterEach(async () => {
  for (const claim of open.splice(0)) await giveBack(claim, "test over", 0);
  // Every case starts with an empty inbox and nobody served lately.
  await pool.query("DELETE FROM events");
  await pool.query("UPDATE scheduler_state SET served_at = NULL");
});

describe("a tenant by itself", () => {
  it("takes the whole batch limit; while another tenant has pending events, one quantum", async () => {
    const whale = await createTestTenant();
    await bulkPending(whale.id, 2_000);
    const alone = await claimed();
    expect(alone.eventIds).toHaveLength(LIMIT);
    await giveBack(open.pop() as Claim, "measured", 0);

    // Control: another tenant has a pending event (not due yet, so the claim is the whale's alone): one quantum.
    const small = await createTestTenant();
    await bulkPending(small.id, 1);
    await pool.query("UPDATE events SET available_at = now() + interval '1 hour' WHERE tenant_id = $1", [small.id]);
    const beside = await claimed();
    expect(beside.tenantIds).toEqual([whale.id]);
    expect(beside.eventIds).toHaveLength(QUANTUM);
  });

  it("after another tenant was served, one quantum until ALONE_MS has passed", async () => {
    const whale = await createTestTenant();
    const small = await createTestTenant();
    await bulkPending(small.id, 1);
    await applyClaim(await claimOnce().then((claim) => claim as Claim));
    await bulkPending(whale.id, 2_000);

    // The small tenant was served a moment ago and may send again: the whale gets one quantum.
    expect((await claimed()).eventIds).toHaveLength(QUANTUM);

    // Control: the small tenant's last visit is older than ALONE_MS: the whale is by itself again.
    await pool.query("UPDATE scheduler_state SET served_at = served_at - $2 * interval '1 millisecond' WHERE tenant_id = $1", [small.id, ALONE_MS + 1]);
    await giveBack(open.pop() as Claim, "the next claim should not see this one in flight", 0);
    expect((await claimed()).eventIds).toHaveLength(LIMIT);
  });
});
