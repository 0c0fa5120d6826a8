/**
 * Ids compare the same in TypeScript and in PostgreSQL, under the whole item
 * id alphabet (any Unicode character but the C0 controls and lone
 * surrogates): the rows applyBatch locks are sorted by sortByKey in the
 * order the database's COLLATE "C" keys have, and comparePrecedence breaks
 * LWW ties as the `(version, type_rank, event_id COLLATE "C") <` of
 * WRITE_IF_NEWER does. Generated ids favour the characters where UTF-16
 * code-unit order and code-point order part (U+E000–U+FFFF against
 * characters above U+FFFF); a control shows the generator meets them, so a
 * comparator by code unit would fail here.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { sortByKey, type ItemWrite } from "./apply.ts";
import { compareIds } from "./lock-order.ts";
import { comparePrecedence } from "./model.ts";

const SEED = 20261202;

/** One character of an item id, from the regions whose orders matter. */
const arbChar = fc
  .oneof(
    fc.integer({ min: 0x20, max: 0x7e }),
    fc.integer({ min: 0x7f, max: 0x7ff }),
    fc.integer({ min: 0xd000, max: 0xd7ff }),
    fc.integer({ min: 0xe000, max: 0xffff }),
    fc.integer({ min: 0x10000, max: 0x10ffff }),
    fc.constantFrom(0x20, 0x7f, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x1f433, 0x10ffff),
  )
  .map((codePoint) => String.fromCodePoint(codePoint));

// Short ids over a few characters share prefixes often, so the comparison reaches deep positions.
const arbItemId = fc.array(arbChar, { minLength: 1, maxLength: 6 }).map((chars) => chars.join(""));
const arbEventId = fc.string({ unit: fc.constantFrom("!", "0", "A", "a", "~", "_", "-"), minLength: 1, maxLength: 4 });

async function sqlOrder(ids: string[]): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(`SELECT id FROM unnest($1::text[]) AS t(id) ORDER BY id COLLATE "C"`, [ids]);
  return rows.map((row) => row.id);
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

describe("id order, TypeScript against PostgreSQL", () => {
  it('the item, ref and event id columns are COLLATE "C" (byte order, code-point order in UTF-8)', async () => {
    const { rows } = await pool.query<{ table_name: string; column_name: string; collation_name: string | null }>(
      `SELECT table_name, column_name, collation_name FROM information_schema.columns
        WHERE table_schema = current_schema() AND (table_name, column_name) IN (('items','item_id'),('items','event_id'),('item_refs','item_id'),('item_refs','ref_id'),('events','item_id'),('events','event_id'))`,
    );
    expect(rows).toHaveLength(6);
    for (const row of rows) expect({ ...row, collation_name: row.collation_name }).toEqual({ ...row, collation_name: "C" });
    const { rows: encoding } = await pool.query<{ encoding: string }>(
      "SELECT pg_encoding_to_char(encoding) AS encoding FROM pg_database WHERE datname = current_database()",
    );
    expect(encoding[0]?.encoding).toBe("UTF8");
  });

  it('compareIds sorts any item ids as ORDER BY … COLLATE "C" does (300 runs)', async () => {
    let codeUnitDisagreed = 0;
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(arbItemId, { minLength: 2, maxLength: 40 }), async (ids) => {
        const expected = await sqlOrder(ids);
        expect([...ids].sort(compareIds)).toEqual(expected);
        if ([...ids].sort(byCodeUnit).join("\u0000") !== expected.join("\u0000")) codeUnitDisagreed++;
      }),
      { numRuns: 300, seed: SEED },
    );
    // The control: sorting by UTF-16 code unit (JavaScript's `<`) disagrees with the database on these inputs.
    expect(codeUnitDisagreed).toBeGreaterThan(10);
  });

  it("sortByKey puts rows in the (tenant, item id) order the database locks them in (200 runs)", async () => {
    const arbRow = fc.record({ tenantId: fc.integer({ min: 1, max: 3 }), itemId: arbItemId });
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(arbRow, { minLength: 2, maxLength: 30, selector: (row) => `${row.tenantId}/${row.itemId}` }), async (keys) => {
        const { rows } = await pool.query<{ tenant_id: number; item_id: string }>(
          `SELECT tenant_id, item_id FROM unnest($1::int[], $2::text[]) AS k(tenant_id, item_id) ORDER BY tenant_id, item_id COLLATE "C"`,
          [keys.map((key) => key.tenantId), keys.map((key) => key.itemId)],
        );
        const sorted = sortByKey(keys as unknown as ItemWrite[]).map((row) => ({ tenant_id: row.tenantId, item_id: row.itemId }));
        expect(sorted).toEqual(rows);
      }),
      { numRuns: 200, seed: SEED },
    );
  });

  it("comparePrecedence breaks ties as the SQL row comparison of WRITE_IF_NEWER does (200 runs of 50 pairs)", async () => {
    const arbPrecedence = fc.record({ version: fc.integer({ min: 1, max: 2 }), typeRank: fc.integer({ min: 1, max: 3 }), eventId: arbEventId });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(arbPrecedence, arbPrecedence), { minLength: 50, maxLength: 50 }), async (pairs) => {
        const { rows } = await pool.query<{ c: number }>(
          `SELECT CASE WHEN (a_v, a_r, a_e COLLATE "C") < (b_v, b_r, b_e COLLATE "C") THEN -1
                       WHEN (a_v, a_r, a_e COLLATE "C") > (b_v, b_r, b_e COLLATE "C") THEN 1 ELSE 0 END AS c
             FROM unnest($1::bigint[], $2::smallint[], $3::text[], $4::bigint[], $5::smallint[], $6::text[]) WITH ORDINALITY
                  AS p(a_v, a_r, a_e, b_v, b_r, b_e, n)
            ORDER BY n`,
          [
            pairs.map(([a]) => a.version),
            pairs.map(([a]) => a.typeRank),
            pairs.map(([a]) => a.eventId),
            pairs.map(([, b]) => b.version),
            pairs.map(([, b]) => b.typeRank),
            pairs.map(([, b]) => b.eventId),
          ],
        );
        expect(pairs.map(([a, b]) => Math.sign(comparePrecedence(a, b)))).toEqual(rows.map((row) => row.c));
      }),
      { numRuns: 200, seed: SEED },
    );
  });
});
