/**
 * Envelope validation and the payload hash, without I/O: the hash depends on
 * the event's content only (not key order, spacing or unknown keys), refs are
 * de-duplicated before hashing, and each bound of docs/design.md is enforced with
 * a detail naming the field.
 */
import { describe, expect, it } from "vitest";
import { AppError } from "../errors.ts";
import fc from "fast-check";
import { canonicalJson } from "../lib/canonical-json.ts";
import { canonicalEventJson, parseEvent, type ValidEvent } from "./envelope.ts";

const TIMESTAMP = "2026-11-27T10:00:00Z";

function created(data: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { type: "item.created", timestamp: TIMESTAMP, data: { id: "item-1", version: 1, ...data }, ...extra };
}

function hashOf(json: unknown, id = "msg_1"): string {
  return parseEvent(id, json).payloadHash.toString("hex");
}

/** The details of the 422 parseEvent throws; fails the test if it does not throw one. */
function rejection(id: string, json: unknown): { path: string; message: string }[] {
  let result: ValidEvent | undefined;
  try {
    result = parseEvent(id, json);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).status).toBe(422);
    return (error as AppError).extra.details ?? [];
  }
  throw new Error(`expected a 422, got a valid event: ${JSON.stringify(result?.body)}`);
}

/** The distinct fields named by the 422 (one field may fail two rules). */
const paths = (id: string, json: unknown) => [...new Set(rejection(id, json).map((detail) => detail.path))];

describe("payload hash", () => {
  it("is equal under key reordering at every level and other spacing", () => {
    const a = JSON.parse(`{"type":"item.created","timestamp":"${TIMESTAMP}","data":{"id":"item-1","version":1,"name":"One","value":1.5,"refs":["x","y"]}}`);
    const b = JSON.parse(`{ "data": { "refs": ["x", "y"], "value": 1.5, "version": 1, "name": "One", "id": "item-1" },
                           "timestamp": "${TIMESTAMP}", "type": "item.created" }`);
    expect(hashOf(a)).toBe(hashOf(b));
  });

  it("differs when any value differs", () => {
    const base = hashOf(created({ name: "One", value: 1.5 }));
    expect(hashOf(created({ name: "One", value: 1.25 }))).not.toBe(base);
    expect(hashOf(created({ name: "Two", value: 1.5 }))).not.toBe(base);
    expect(hashOf({ ...created({ name: "One", value: 1.5 }), type: "item.updated" })).not.toBe(base);
    expect(hashOf(created({ name: "One", value: 1.5 }, { timestamp: "2026-11-27T10:00:01Z" }))).not.toBe(base);
  });

  it("does not depend on the event id (the id names the event; the hash compares its content)", () => {
    expect(hashOf(created({}), "msg_1")).toBe(hashOf(created({}), "msg_2"));
  });

  it("ignores unknown keys, which are dropped from the stored body", () => {
    const plain = parseEvent("msg_1", created({ name: "One" }));
    const padded = parseEvent("msg_1", created({ name: "One", colour: "red" }, { padding: "x".repeat(100) }));
    expect(padded.payloadHash.equals(plain.payloadHash)).toBe(true);
    expect(padded.body).toEqual(plain.body);
    expect(padded.body).not.toHaveProperty("padding");
  });
});

describe("refs", () => {
  it("are de-duplicated, keeping the first occurrence's order", () => {
    expect(parseEvent("msg_1", created({ refs: ["b", "a", "b", "c", "a"] })).body.data).toMatchObject({ refs: ["b", "a", "c"] });
  });

  it("with repeats hash like the same refs without them", () => {
    expect(hashOf(created({ refs: ["a", "b", "a", "a"] }))).toBe(hashOf(created({ refs: ["a", "b"] })));
  });

  it("must each be a valid id", () => {
    expect(paths("msg_1", created({ refs: ["ok", "has\ttab"] }))).toEqual(["data.refs.1"]);
  });
});

describe("item.deleted", () => {
  it("needs only id and version", () => {
    const event = parseEvent("msg_1", { type: "item.deleted", timestamp: TIMESTAMP, data: { id: "item-1", version: 3 } });
    expect(event.body).toEqual({ type: "item.deleted", timestamp: TIMESTAMP, data: { id: "item-1", version: 3 } });
  });

  it("drops item fields it does not carry", () => {
    const event = parseEvent("msg_1", { type: "item.deleted", timestamp: TIMESTAMP, data: { id: "item-1", version: 3, name: "x", refs: ["a"] } });
    expect(event.body.data).toEqual({ id: "item-1", version: 3 });
  });

  it("still needs a version", () => {
    expect(paths("msg_1", { type: "item.deleted", timestamp: TIMESTAMP, data: { id: "item-1" } })).toEqual(["data.version"]);
  });
});

describe("bounds", () => {
  it.each([
    ["zero", 0],
    ["negative", -1],
    ["fractional", 1.5],
    ["past the safe integers", Number.MAX_SAFE_INTEGER + 1],
    ["a numeric string", "7"],
  ])("version must be a safe positive integer: %s is refused", (_, version) => {
    expect(paths("msg_1", created({ version }))).toEqual(["data.version"]);
  });

  it("version 1 and Number.MAX_SAFE_INTEGER are accepted", () => {
    expect(parseEvent("msg_1", created({ version: 1 })).body.data.version).toBe(1);
    expect(parseEvent("msg_1", created({ version: Number.MAX_SAFE_INTEGER })).body.data.version).toBe(Number.MAX_SAFE_INTEGER);
  });

  it.each([
    ["empty", ""],
    ["256 characters", "x".repeat(256)],
    ["a space", "item 1"],
    ["a tab", "item\t1"],
    ["a non-ASCII letter", "itém"],
    ["DEL", "item\x7f"],
  ])("an event id must be 1–255 visible ASCII characters: %s is refused", (_, id) => {
    expect(paths(id, created({}))).toEqual(["id"]);
  });

  it("event ids of 1 and 255 visible characters, punctuation included, are accepted", () => {
    for (const id of ["x", "x".repeat(255), "!", "~", "tenant/item:42#a"]) {
      expect(parseEvent(id, created({})).eventId).toBe(id);
    }
  });

  it.each([
    ["empty", ""],
    ["256 characters", "x".repeat(256)],
    ["256 characters above U+FFFF", "🐳".repeat(256)],
    ["NUL", "item\u0000"],
    ["a tab (a C0 control)", "item\t1"],
    ["a newline", "item\n1"],
    ["U+001F", "item\u001f"],
    ["a lone high surrogate", "item\ud800"],
    ["a lone low surrogate", "\udc00item"],
    ["surrogates in the wrong order", "\udc00\ud800"],
  ])("an item id must be 1–255 Unicode characters without controls or lone surrogates: %s is refused, as data.id and as a ref", (_, id) => {
    expect(paths("msg_1", created({ id }))).toEqual(["data.id"]);
    expect(paths("msg_1", created({ refs: ["ok", id] }))).toEqual(["data.refs.1"]);
  });

  it.each([
    ["a space", "user 42"],
    ["letters and an emoji", "ünïcødé-🐳"],
    ["SQL", "'; DROP TABLE x; --"],
    ["DEL and U+FFFF", "\x7f\uffff"],
    ["255 characters above U+FFFF (510 UTF-16 code units)", "🐳".repeat(255)],
    ["one character", "x"],
  ])("item ids are the tenant's own: %s is accepted, as data.id and as a ref", (_, id) => {
    expect(parseEvent("msg_1", created({ id, refs: [id] })).body.data).toMatchObject({ id, refs: [id] });
  });

  it.each([
    ["NUL", "a\u0000b"],
    ["a lone surrogate", "a\ud83d"],
  ])("name and category must be storable text: %s is refused, naming the field", (_, text) => {
    expect(paths("msg_1", created({ name: text }))).toEqual(["data.name"]);
    expect(paths("msg_1", created({ category: text }))).toEqual(["data.category"]);
  });

  it.each([
    ["Infinity", Number.POSITIVE_INFINITY],
    ["-Infinity", Number.NEGATIVE_INFINITY],
    ["NaN", Number.NaN],
  ])("value must be finite: %s is refused", (_, value) => {
    expect(paths("msg_1", created({ value }))).toEqual(["data.value"]);
  });

  it("a JSON number too large for a double (1e400, parsed as Infinity) is refused", () => {
    const json = JSON.parse(`{"type":"item.created","timestamp":"${TIMESTAMP}","data":{"id":"a","version":1,"value":1e400}}`);
    expect(paths("msg_1", json)).toEqual(["data.value"]);
  });

  it.each([
    ["no zone", "2026-11-27T10:00:00"],
    ["a date only", "2026-11-27"],
    ["not a date", "yesterday"],
    ["the year 0000 (PostgreSQL has no year 0)", "0000-01-01T00:00:00Z"],
    ["an offset beyond ±15:59 (PostgreSQL's bound)", "2026-11-27T10:00:00+16:00"],
    ["an offset of -23:59", "2026-11-27T10:00:00-23:59"],
  ])("timestamp needs a date-time with a zone: %s is refused", (_, timestamp) => {
    expect(paths("msg_1", created({}, { timestamp }))).toEqual(["timestamp"]);
  });

  it.each(["2026-11-27T10:00:00Z", "2026-11-27T10:00:00.123Z", "2026-11-27T12:00:00+02:00", "0001-01-01T00:00:00+15:59", "9999-12-31T23:59:59-15:59"])(
    "timestamp %s is accepted",
    (timestamp) => {
      expect(parseEvent("msg_1", created({}, { timestamp })).body.timestamp).toBe(timestamp);
    },
  );

  it("an unknown type names the type field", () => {
    expect(paths("msg_1", { ...created({}), type: "item.exploded" })).toEqual(["type"]);
  });

  it.each([
    ["an array", [created({})]],
    ["a string", "item.created"],
    ["null", null],
  ])("a body that is %s is refused as a whole", (_, json) => {
    expect(paths("msg_1", json)).toEqual(["(body)"]);
  });
});

describe("thin events", () => {
  it("a thin created or updated event is {id, version} with thin: true, stored with the flag (so it hashes apart from the full one)", () => {
    for (const type of ["item.created", "item.updated"]) {
      const event = parseEvent("msg_1", { type, thin: true, timestamp: TIMESTAMP, data: { id: "item-1", version: 3 } });
      expect(event.body).toEqual({ type, thin: true, timestamp: TIMESTAMP, data: { id: "item-1", version: 3 } });
      expect(event.payload).toBe(canonicalJson(event.body));
      expect(event.payloadHash).not.toEqual(parseEvent("msg_1", { type, timestamp: TIMESTAMP, data: { id: "item-1", version: 3 } }).payloadHash);
    }
  });

  it.each(["name", "category", "value", "refs"])("a thin event carrying state (%s) is a 422 naming the field", (field) => {
    const value = { name: "One", category: null, value: 1, refs: [] }[field];
    const details = rejection("msg_1", created({ [field]: value }, { thin: true }));
    expect(details).toEqual([{ path: `data.${field}`, message: "a thin event carries only id and version" }]);
  });

  it("thin: false is a full event, stored as if the flag were absent", () => {
    expect(hashOf(created({ name: "One" }, { thin: false }))).toBe(hashOf(created({ name: "One" })));
    expect(parseEvent("msg_1", created({ name: "One" }, { thin: false })).body).not.toHaveProperty("thin");
  });

  it("thin on a delete is dropped: a delete needs nothing fetched", () => {
    const event = parseEvent("msg_1", { type: "item.deleted", thin: true, timestamp: TIMESTAMP, data: { id: "item-1", version: 3 } });
    expect(event.body).toEqual({ type: "item.deleted", timestamp: TIMESTAMP, data: { id: "item-1", version: 3 } });
  });

  it("thin must be a boolean", () => {
    expect(paths("msg_1", created({}, { thin: "yes" }))).toEqual(["thin"]);
  });
});

describe("canonicalEventJson", () => {
  const id = fc.string({ minLength: 1, maxLength: 12 });
  const text = fc.option(fc.string({ maxLength: 20 }), { nil: null });
  const item = fc.record(
    {
      id,
      version: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      name: text,
      category: text,
      value: fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: null }),
      refs: fc.array(id, { maxLength: 4 }),
    },
    { requiredKeys: ["id", "version"] },
  );
  const body = fc.record(
    {
      type: fc.constantFrom("item.created", "item.updated", "item.deleted"),
      thin: fc.boolean(),
      timestamp: fc.constantFrom("2026-11-27T10:00:00Z", "2026-11-27T10:00:00.123+02:00"),
      data: item,
    },
    { requiredKeys: ["type", "timestamp", "data"] },
  );

  it("equals canonicalJson for any body, keys present, absent or null (2,000 cases)", () => {
    fc.assert(
      fc.property(body, (value) => {
        expect(canonicalEventJson(value as never)).toBe(canonicalJson(value));
      }),
      { numRuns: 2_000, seed: 20261202 },
    );
  });

  it("is what parseEvent stores and hashes", () => {
    const event = parseEvent("msg_1", { type: "item.updated", timestamp: "2026-11-27T10:00:00Z", data: { version: 2, id: "a", refs: ["b", "b"], extra: 1 } });
    expect(event.payload).toBe(canonicalJson(event.body));
    expect(event.payload).toBe('{"data":{"id":"a","refs":["b"],"version":2},"timestamp":"2026-11-27T10:00:00Z","type":"item.updated"}');
  });
});
