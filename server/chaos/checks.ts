/**
 * What a chaos run proves, read from its database once every process it
 * started has stopped: one Check per rule, each with a one-line account.
 *
 * 1. final item state = the model (server/core/model.ts) over every event
 *    planned for a tenant (webhooks; a thin one as it resolves against the
 *    run's item API, ./item-api.ts) or served by the upstream (pull);
 * 2. every event answered 2xx is stored (and every stored event is one the
 *    run sent: no event appears that nobody sent);
 * 3. every stored event has exactly one outcome (finished, with an outcome,
 *    and `dead` exactly when its status is dead; the unique key leaves one row per id);
 * 4. rollup counts = events, per tenant and resolution, received by type
 *    and per outcome;
 * 5. zero deadlocks: pg_stat_database.deadlocks of the run's database did
 *    not move, and the proxy saw no 40P01; zero serialization failures: the
 *    proxy saw no 40001 (PostgreSQL keeps no statistic of those);
 * 6. no lease left behind: no claims row (a worker's lease on events) and no
 *    source leased.
 * Besides these, the deliveries met only answers the contract allows.
 */
import type pg from "pg";
import { modelState, type ItemState } from "../core/model.ts";
import { OUTCOMES } from "../core/event.ts";
import { eventsBetween, toBody, type FeedSpec } from "../sim/feed.ts";
import { ROLLUP_RESOLUTIONS } from "../stats/rollups.ts";
import { ackKey, type DeliveryLog } from "./deliver.ts";
import { resolvedEvents } from "./item-api.ts";
import type { ChaosPlan } from "./plan.ts";

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface CheckInput {
  plan: ChaosPlan;
  /** Database id of each webhook tenant, by plan index. */
  tenantIds: number[];
  pullTenantId: number;
  log: DeliveryLog;
  deadlocksBefore: number;
  /** ErrorResponses the database proxy saw, by SQLSTATE. */
  proxyErrors: ReadonlyMap<string, number>;
}

const n = (value: number) => value.toLocaleString("en-US");

interface ItemRow {
  tenant_id: number;
  item_id: string;
  version: string;
  type_rank: number;
  event_id: string;
  content_hash: Buffer;
  refs: string[] | null;
}

function expectedStates(plan: ChaosPlan, tenantIds: number[], pullTenantId: number): Map<number, Map<string, ItemState>> {
  const expected = new Map<number, Map<string, ItemState>>();
  // Thin events count as they resolve against the run's item API (the item's final state, or a delete when it is gone).
  plan.events.forEach((events, index) => expected.set(tenantIds[index] as number, modelState(resolvedEvents(events))));
  const feed = eventsBetween(plan.feed as FeedSpec, 0, plan.feed.total).map((event) => ({ eventId: event.id, body: toBody(event) }));
  expected.set(pullTenantId, modelState(feed));
  return expected;
}

/** Every way the stored items of the tenants in `expected` differ from the model's states (none: equal). */
export async function modelDifferences(client: pg.Pool, expected: Map<number, Map<string, ItemState>>): Promise<{ items: number; differences: string[] }> {
  const { rows } = await client.query<ItemRow>(
    `SELECT i.tenant_id, i.item_id, i.version::text, i.type_rank, i.event_id, i.content_hash,
            (SELECT array_agg(r.ref_id ORDER BY r.ref_id COLLATE "C") FROM item_refs r WHERE r.tenant_id = i.tenant_id AND r.item_id = i.item_id) AS refs
       FROM items i WHERE i.tenant_id = ANY($1::int[])`,
    [[...expected.keys()]],
  );
  const differences: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    seen.add(`${row.tenant_id}/${row.item_id}`);
    const want = expected.get(row.tenant_id)?.get(row.item_id);
    if (!want) {
      differences.push(`tenant ${row.tenant_id} item ${row.item_id} exists but no event made it`);
      continue;
    }
    const same =
      Number(row.version) === want.version &&
      row.type_rank === want.typeRank &&
      row.event_id === want.eventId &&
      row.content_hash.equals(want.contentHash) &&
      JSON.stringify(row.refs ?? []) === JSON.stringify(want.refs);
    if (!same)
      differences.push(`tenant ${row.tenant_id} item ${row.item_id}: stored v${row.version} by ${row.event_id}, model v${want.version} by ${want.eventId}`);
  }
  let items = 0;
  for (const [tenantId, states] of expected) {
    for (const itemId of states.keys()) {
      items++;
      if (!seen.has(`${tenantId}/${itemId}`)) differences.push(`tenant ${tenantId} item ${itemId} is missing`);
    }
  }
  return { items, differences };
}

async function checkModel(client: pg.Pool, input: CheckInput): Promise<Check> {
  const expected = expectedStates(input.plan, input.tenantIds, input.pullTenantId);
  const { items, differences } = await modelDifferences(client, expected);
  return differences.length === 0
    ? { name: "model", ok: true, detail: `final state of ${n(items)} items in ${expected.size} tenants equals the model` }
    : { name: "model", ok: false, detail: `${n(differences.length)} items differ from the model; first: ${differences.slice(0, 3).join("; ")}` };
}

async function checkStored(client: pg.Pool, input: CheckInput): Promise<Check> {
  const { rows } = await client.query<{ tenant_id: number; event_id: string }>("SELECT tenant_id, event_id FROM events WHERE tenant_id = ANY($1::int[])", [
    input.tenantIds,
  ]);
  const indexOf = new Map(input.tenantIds.map((id, index) => [id, index]));
  const stored = new Set(rows.map((row) => ackKey(indexOf.get(row.tenant_id) as number, row.event_id)));
  const planned = new Set(input.plan.events.flat().map((event) => ackKey(event.tenant, event.id)));
  const lost = [...input.log.acknowledged].filter((key) => !stored.has(key));
  const strangers = [...stored].filter((key) => !planned.has(key));
  const ok = lost.length === 0 && strangers.length === 0 && input.log.acknowledged.size > 0;
  return {
    name: "acknowledged stored",
    ok,
    detail: ok
      ? `all ${n(input.log.acknowledged.size)} events answered 2xx are stored, and nothing else`
      : `${n(lost.length)} answered 2xx but not stored (first: ${lost.slice(0, 3).join(", ")}); ${n(strangers.length)} stored that nobody sent; ${n(input.log.acknowledged.size)} acknowledged`,
  };
}

async function checkOutcomes(client: pg.Pool, input: CheckInput): Promise<Check> {
  const all = [...input.tenantIds, input.pullTenantId];
  const { rows } = await client.query<{ events: string; unfinished: string; mismatched: string; distinct_ids: string }>(
    `SELECT count(*)::text AS events,
            count(*) FILTER (WHERE status NOT IN ('done', 'dead') OR outcome IS NULL OR processed_at IS NULL)::text AS unfinished,
            count(*) FILTER (WHERE (status = 'dead') <> (outcome = 'dead') OR outcome NOT IN (${OUTCOMES.map((o) => `'${o}'`).join(", ")}))::text AS mismatched,
            count(DISTINCT (tenant_id, event_id))::text AS distinct_ids
       FROM events WHERE tenant_id = ANY($1::int[])`,
    [all],
  );
  const row = rows[0] as { events: string; unfinished: string; mismatched: string; distinct_ids: string };
  const expectedIds =
    new Set(input.plan.events.flat().map((event) => ackKey(event.tenant, event.id))).size +
    new Set(eventsBetween(input.plan.feed, 0, input.plan.feed.total).map((event) => event.id)).size;
  const ok =
    Number(row.unfinished) === 0 && Number(row.mismatched) === 0 && Number(row.events) === Number(row.distinct_ids) && Number(row.events) === expectedIds;
  return {
    name: "one outcome each",
    ok,
    detail: `${n(Number(row.events))} stored events (${n(expectedIds)} distinct ids sent or served), ${row.unfinished} without an outcome, ${row.mismatched} with an inconsistent one`,
  };
}

async function checkRollups(client: pg.Pool, input: CheckInput): Promise<Check> {
  const all = [...input.tenantIds, input.pullTenantId];
  const outcomeSums = OUTCOMES.map((outcome) => `count(*) FILTER (WHERE outcome = '${outcome}') AS ${outcome}`).join(", ");
  const rollupSums = OUTCOMES.map((outcome) => `sum(${outcome}) AS ${outcome}`).join(", ");
  const { rows: counted } = await client.query<Record<string, string | number>>(
    `SELECT tenant_id, count(*) FILTER (WHERE type = 'item.created') AS created, count(*) FILTER (WHERE type = 'item.updated') AS updated,
            count(*) FILTER (WHERE type = 'item.deleted') AS deleted, ${outcomeSums}
       FROM events WHERE tenant_id = ANY($1::int[]) GROUP BY tenant_id`,
    [all],
  );
  const { rows: rolled } = await client.query<Record<string, string | number>>(
    `SELECT tenant_id, resolution, sum(received_created) AS created, sum(received_updated) AS updated, sum(received_deleted) AS deleted, ${rollupSums}
       FROM rollup_counts WHERE tenant_id = ANY($1::int[]) GROUP BY tenant_id, resolution`,
    [all],
  );
  const fields = ["created", "updated", "deleted", ...OUTCOMES];
  const differences: string[] = [];
  let compared = 0;
  for (const events of counted) {
    for (const resolution of ROLLUP_RESOLUTIONS) {
      const rollup = rolled.find((row) => row.tenant_id === events.tenant_id && row.resolution === resolution);
      for (const field of fields) {
        compared++;
        const want = Number(events[field]);
        const got = Number(rollup?.[field] ?? 0);
        if (want !== got) differences.push(`tenant ${events.tenant_id} ${resolution} s ${field}: rollups ${got}, events ${want}`);
      }
    }
  }
  const ok = differences.length === 0 && counted.length === all.length;
  return {
    name: "rollups",
    ok,
    detail: ok
      ? `rollup counts equal the events (${compared} counters: received by type and each outcome, ${all.length} tenants × ${ROLLUP_RESOLUTIONS.length} resolutions)`
      : `${differences.length} rollup counters differ; first: ${differences.slice(0, 3).join("; ")}`,
  };
}

async function checkDeadlocks(client: pg.Pool, input: CheckInput): Promise<Check[]> {
  const deadlocks = (await currentDeadlocks(client)) - input.deadlocksBefore;
  const seen40P01 = input.proxyErrors.get("40P01") ?? 0;
  const seen40001 = input.proxyErrors.get("40001") ?? 0;
  return [
    {
      name: "deadlocks",
      ok: deadlocks === 0 && seen40P01 === 0,
      detail: `${deadlocks} deadlocks (pg_stat_database.deadlocks delta of the run's database); ${seen40P01} 40P01 errors answered through the proxy`,
    },
    {
      name: "serialization failures",
      ok: seen40001 === 0,
      detail: `${seen40001} 40001 errors answered through the proxy to the processes the run started (PostgreSQL has no statistic for them)`,
    },
  ];
}

/** Claim rows of these tenants still held (and the events they list), and their sources still leased. */
export async function leftoverLeases(client: pg.Pool, tenantIds: number[]): Promise<{ claims: number; events: number; sources: number }> {
  const { rows } = await client.query<{ claims: number; events: number; sources: number }>(
    `SELECT (SELECT count(*)::int FROM claims WHERE tenant_id = ANY($1::int[])) AS claims,
            (SELECT coalesce(sum(cardinality(event_ids)), 0)::int FROM claims WHERE tenant_id = ANY($1::int[])) AS events,
            (SELECT count(*)::int FROM sources WHERE tenant_id = ANY($1::int[]) AND (lease_owner IS NOT NULL OR lease_until IS NOT NULL)) AS sources`,
    [tenantIds],
  );
  return rows[0] as { claims: number; events: number; sources: number };
}

async function checkLeases(client: pg.Pool, input: CheckInput): Promise<Check> {
  const row = await leftoverLeases(client, [...input.tenantIds, input.pullTenantId]);
  return {
    name: "leases",
    ok: row.claims === 0 && row.sources === 0,
    detail: `${row.claims} claims (${row.events} events) and ${row.sources} sources still leased`,
  };
}

function checkAnswers(log: DeliveryLog): Check {
  const statuses = [...log.byStatus.entries()]
    .sort(([a], [b]) => a - b)
    .map(([status, count]) => `${status === 0 ? "no answer" : status}: ${n(count)}`)
    .join(", ");
  return {
    name: "answers",
    ok: log.unexpected.length === 0,
    detail:
      log.unexpected.length === 0
        ? `${n(log.requests)} requests (${statuses}); every delivery ended 2xx`
        : `${log.unexpected.length} answers outside the contract; first: ${log.unexpected.slice(0, 3).join("; ")}`,
  };
}

export async function currentDeadlocks(client: pg.Pool): Promise<number> {
  // The statistics are a snapshot per transaction; clear it so this reads what the server has now.
  await client.query("SELECT pg_stat_clear_snapshot()");
  const { rows } = await client.query<{ deadlocks: string }>("SELECT deadlocks::text FROM pg_stat_database WHERE datname = current_database()");
  return Number(rows[0]?.deadlocks ?? 0);
}

export async function runChecks(client: pg.Pool, input: CheckInput): Promise<Check[]> {
  return [
    await checkModel(client, input),
    await checkStored(client, input),
    await checkOutcomes(client, input),
    await checkRollups(client, input),
    ...(await checkDeadlocks(client, input)),
    await checkLeases(client, input),
    checkAnswers(input.log),
  ];
}
