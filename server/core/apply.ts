/**
 * applyBatch: turns a batch of stored events (of one tenant or several) into
 * item state, inside the caller's transaction.
 *
 * Guarantees (docs/design.md, "Event semantics"):
 * - Last writer wins by (version, type rank, event id); the comparison and
 *   the write are one UPDATE … WHERE (old) < (new) done by the database, so
 *   the outcome never depends on a value read earlier by the application.
 * - Deletes leave tombstones; an older create or update arriving later finds
 *   the tombstone's higher version and changes nothing (`stale`).
 * - An event older than its tenant's tombstone horizon (beforeHorizon: its
 *   source timestamp precedes the horizon, see server/retention) is `stale`
 *   by rule and changes nothing: the tombstone it might lose to may have been
 *   forgotten, so it cannot be judged by precedence.
 * - Every event gets exactly one outcome: applied, stale, duplicate (same
 *   version, type and content as the state it met) or rejected (its stored
 *   payload fails validation; it is kept, not retried).
 * - A thin event is applied only as the full state its caller fetched and
 *   put in its payload; one still thin here is an error, never applied
 *   as an empty state.
 * - Locks: items rows are locked in ascending (tenant, item id) by a single
 *   INSERT … ON CONFLICT pass (new rows inserted, existing rows locked, both
 *   in input order), then refs; see lock-order.ts. No statement of the batch
 *   runs concurrently with another.
 */
import { sql, statement, type Tx } from "../db.ts";
import { isThin, ZEventBody, type ApplyOutcome } from "./event.ts";
import { compareIds, lockSteps } from "./lock-order.ts";
import { faultActive } from "../faults.ts";
import { comparePrecedence, isSameChange, itemStateOf, type ItemState } from "./model.ts";

export interface InboxEvent {
  /** The inbox row id. */
  id: number;
  tenantId: number;
  eventId: string;
  /** The stored event: {type, timestamp, data}. */
  payload: unknown;
  /** Its source timestamp is older than the tenant's tombstone horizon. */
  beforeHorizon?: boolean;
}

export interface EventResult {
  id: number;
  outcome: ApplyOutcome;
  error: string | null;
}

/** One item write: the state the batch's winning event gives the item. */
export interface ItemWrite extends ItemState {
  tenantId: number;
}

/** Puts rows in the order their locks are taken. Production sorts by key; only tests pass anything else. */
export type RowOrder = (rows: ItemWrite[]) => ItemWrite[];

/** Ascending (tenant, item id), item ids by code point: PostgreSQL's order for the "C" collation of the key. */
export const sortByKey: RowOrder = (rows) => [...rows].sort((a, b) => a.tenantId - b.tenantId || compareIds(a.itemId, b.itemId));

// The rows travel as one JSON array of objects ($1), not as ten arrays: JSON.stringify costs the worker a fraction of
// what the driver's array literals cost (measured: the parameters' encoding was about a sixth of a batch's CPU in the
// worker process), and PostgreSQL reads either as quickly. Every value is JSON-safe: numbers are finite (the event
// schema), versions are below 2^53, the content hash is hex.
const ITEM_TYPES = `tenant_id int, item_id text, version bigint, type_rank smallint, event_id text, content_hash text, deleted boolean, name text, category text, value float8`;
const ITEM_FIELDS = `tenant_id, item_id, version, type_rank, event_id, content_hash, deleted, name, category, value`;
const ITEM_ROWS = `ROWS FROM (json_to_recordset($1::json) AS (${ITEM_TYPES}))`;

// Inserts new items with their final state and locks existing ones (DO UPDATE
// … WHERE false updates nothing but locks the conflicting row), one row at a
// time in `position` order.
const INSERT_OR_LOCK_ITEMS = statement(
  "insert_or_lock_items",
  `
INSERT INTO items (tenant_id, item_id, version, type_rank, event_id, content_hash, deleted, name, category, value, updated_at)
SELECT r.tenant_id, r.item_id, r.version, r.type_rank, r.event_id, decode(r.content_hash, 'hex'), r.deleted, r.name, r.category, r.value, now()
  FROM ${ITEM_ROWS} WITH ORDINALITY AS r(${ITEM_FIELDS}, position)
 ORDER BY r.position
    ON CONFLICT (tenant_id, item_id) DO UPDATE SET version = items.version WHERE false
RETURNING tenant_id, item_id`,
);

// The last-writer-wins rule, decided by the database on rows this transaction
// already holds, and in the same statement the rows as they were before it:
// every part of a statement sees the same snapshot, so `before` cannot see
// what `written` changes (and, the rows being locked, nothing else changed them).
const WRITE_IF_NEWER = statement(
  "write_if_newer",
  `
WITH r AS (
  SELECT * FROM ${ITEM_ROWS} AS r(${ITEM_FIELDS})
), before AS (
  SELECT i.tenant_id, i.item_id, i.version, i.type_rank, encode(i.content_hash, 'hex') AS content_hash
    FROM items i JOIN r ON i.tenant_id = r.tenant_id AND i.item_id = r.item_id
), written AS (
  UPDATE items AS i
     SET version = r.version, type_rank = r.type_rank, event_id = r.event_id, content_hash = decode(r.content_hash, 'hex'),
         deleted = r.deleted, name = r.name, category = r.category, value = r.value, updated_at = now()
    FROM r
   WHERE i.tenant_id = r.tenant_id AND i.item_id = r.item_id
     AND (i.version, i.type_rank, i.event_id COLLATE "C") < (r.version, r.type_rank, r.event_id COLLATE "C")
  RETURNING i.tenant_id, i.item_id
)
SELECT before.tenant_id, before.item_id, before.version, before.type_rank, before.content_hash, written.item_id IS NOT NULL AS written
  FROM before LEFT JOIN written USING (tenant_id, item_id)`,
);

const DELETE_REFS = statement(
  "delete_refs",
  `
DELETE FROM item_refs AS f
 USING unnest($1::int[], $2::text[]) AS r(tenant_id, item_id)
 WHERE f.tenant_id = r.tenant_id AND f.item_id = r.item_id`,
);

const INSERT_REFS = statement(
  "insert_refs",
  `
INSERT INTO item_refs (tenant_id, item_id, ref_id)
SELECT r.tenant_id, r.item_id, r.ref_id FROM unnest($1::int[], $2::text[], $3::text[]) AS r(tenant_id, item_id, ref_id)
 ORDER BY r.tenant_id, r.item_id COLLATE "C", r.ref_id COLLATE "C"`,
);

function itemRows(rows: ItemWrite[]): [string] {
  return [
    JSON.stringify(
      rows.map((row) => ({
        tenant_id: row.tenantId,
        item_id: row.itemId,
        version: row.version,
        type_rank: row.typeRank,
        event_id: row.eventId,
        content_hash: row.contentHash.toString("hex"),
        deleted: row.deleted,
        name: row.name,
        category: row.category,
        value: row.value,
      })),
    ),
  ];
}

const keyOf = (tenantId: number, itemId: string) => `${tenantId}\u0000${itemId}`;

interface PreImage {
  tenant_id: number;
  item_id: string;
  version: number;
  type_rank: number;
  content_hash: string;
  written: boolean;
}

let faultyTurn = 0;
/** TIDEMARK_FAULT=reverse-lock-order (test-only, server/faults.ts): every other batch locks its rows in descending key order, so batches can deadlock. */
const alternatingOrder: RowOrder = (rows) => (faultyTurn++ % 2 === 0 ? sortByKey(rows) : sortByKey(rows).reverse());

export async function applyBatch(tx: Tx, events: readonly InboxEvent[]): Promise<EventResult[]> {
  return applyBatchWithRowOrder(tx, events, faultActive("reverse-lock-order") ? alternatingOrder : sortByKey);
}

/**
 * applyBatch with the row order as a parameter: the seam through which the
 * race test proves it can see a deadlock when rows are not sorted. Call
 * applyBatch everywhere else.
 */
export async function applyBatchWithRowOrder(tx: Tx, events: readonly InboxEvent[], orderRows: RowOrder): Promise<EventResult[]> {
  const results = new Map<number, EventResult>();
  const record = (id: number, outcome: ApplyOutcome, error: string | null = null) => results.set(id, { id, outcome, error });

  const candidates = parseCandidates(events, record);
  const winners = batchWinners(candidates, record);
  const rows = orderRows([...winners.values()].map((winner) => winner.row));
  if (rows.length > 0) {
    const locks = lockSteps(tx);
    locks.enter("items");
    const { written, inserted, outcomes } = await writeItems(tx, rows);
    for (const row of rows) {
      const key = keyOf(row.tenantId, row.itemId);
      record((winners.get(key) as Candidate).id, outcomes.get(key) as ApplyOutcome);
    }
    // An item's refs follow the item: replaced whenever the item was written.
    const changed = rows.filter((row) => written.has(keyOf(row.tenantId, row.itemId)));
    if (changed.length > 0) {
      locks.enter("item_refs");
      await replaceRefs(tx, changed, inserted);
    }
  }
  return events.map((event) => results.get(event.id) as EventResult);
}

interface Candidate {
  id: number;
  row: ItemWrite;
}

type RecordOutcome = (id: number, outcome: ApplyOutcome, error?: string | null) => void;

export const BEYOND_HORIZON = "older than the tenant's tombstone horizon: stale by rule (see retention)";

/** The events whose stored payload is a valid event; the others are recorded as rejected, with why. */
function parseCandidates(events: readonly InboxEvent[], record: RecordOutcome): Candidate[] {
  const candidates: Candidate[] = [];
  for (const event of events) {
    const parsed = ZEventBody.safeParse(event.payload);
    if (!parsed.success) {
      record(event.id, "rejected", parsed.error.issues.map((issue) => `${issue.path.join(".") || "(body)"}: ${issue.message}`).join("; "));
    } else if (event.beforeHorizon) {
      record(event.id, "stale", BEYOND_HORIZON);
    } else if (isThin(parsed.data)) {
      // Its state is the item API's answer, which the caller fetches before the transaction (server/thin).
      throw new Error(`event ${event.eventId} is thin and reached apply without the item's fetched state`);
    } else {
      candidates.push({ id: event.id, row: { tenantId: event.tenantId, ...itemStateOf(event.eventId, parsed.data) } });
    }
  }
  return candidates;
}

/** One write per item: the batch's own winner, by key. The others lost inside the batch and are recorded here. */
function batchWinners(candidates: readonly Candidate[], record: RecordOutcome): Map<string, Candidate> {
  const winners = new Map<string, Candidate>();
  for (const candidate of candidates) {
    const key = keyOf(candidate.row.tenantId, candidate.row.itemId);
    const current = winners.get(key);
    if (!current || comparePrecedence(candidate.row, current.row) > 0) winners.set(key, candidate);
  }
  for (const candidate of candidates) {
    const winner = winners.get(keyOf(candidate.row.tenantId, candidate.row.itemId)) as Candidate;
    if (winner.id !== candidate.id) record(candidate.id, isSameChange(candidate.row, winner.row) ? "duplicate" : "stale");
  }
  return winners;
}

/**
 * Writes each row if it beats the item's stored state, in the rows' order:
 * new items are inserted, existing ones locked, then updated where newer.
 * Returns, by key, which rows were written, which were new, and each row's outcome.
 */
async function writeItems(tx: Tx, rows: ItemWrite[]): Promise<{ written: Set<string>; inserted: Set<string>; outcomes: Map<string, ApplyOutcome> }> {
  const insertedRows = await sql<{ tenant_id: number; item_id: string }>(tx, INSERT_OR_LOCK_ITEMS, itemRows(rows));
  const inserted = new Set(insertedRows.map((row) => keyOf(row.tenant_id, row.item_id)));
  const existing = rows.filter((row) => !inserted.has(keyOf(row.tenantId, row.itemId)));

  const preImages = new Map<string, PreImage>();
  const written = new Set<string>(inserted);
  if (existing.length > 0) {
    for (const row of await sql<PreImage>(tx, WRITE_IF_NEWER, itemRows(existing))) {
      const key = keyOf(row.tenant_id, row.item_id);
      preImages.set(key, row);
      if (row.written) written.add(key);
    }
  }

  const outcomes = new Map<string, ApplyOutcome>();
  for (const row of rows) {
    const key = keyOf(row.tenantId, row.itemId);
    const before = preImages.get(key);
    const sameAsBefore =
      before !== undefined && isSameChange(row, { version: before.version, typeRank: before.type_rank, contentHash: Buffer.from(before.content_hash, "hex") });
    outcomes.set(key, sameAsBefore ? "duplicate" : written.has(key) ? "applied" : "stale");
  }
  return { written, inserted, outcomes };
}

/** Replaces the refs of the written rows (a new item has none to delete). */
async function replaceRefs(tx: Tx, changed: readonly ItemWrite[], inserted: ReadonlySet<string>): Promise<void> {
  const replaced = changed.filter((row) => !inserted.has(keyOf(row.tenantId, row.itemId)));
  if (replaced.length > 0) await sql(tx, DELETE_REFS, [replaced.map((row) => row.tenantId), replaced.map((row) => row.itemId)]);
  const refs = changed.flatMap((row) => row.refs.map((ref) => ({ tenantId: row.tenantId, itemId: row.itemId, ref })));
  if (refs.length > 0) {
    await sql(tx, INSERT_REFS, [refs.map((r) => r.tenantId), refs.map((r) => r.itemId), refs.map((r) => r.ref)]);
  }
}
