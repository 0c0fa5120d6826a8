/**
 * Canonical JSON, the text the payload hash is taken over. Properties (fast-
 * check, over arbitrary JSON values): the text does not depend on key order,
 * and it parses back to the same JSON value. Examples pin the exact form.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, sha256 } from "./canonical-json.ts";

/** A deep copy of `value` with every object's keys in an order drawn from `random`. */
function shuffleKeys(value: unknown, random: () => number): unknown {
  if (Array.isArray(value)) return value.map((entry) => shuffleKeys(entry, random));
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [entries[i], entries[j]] = [entries[j] as [string, unknown], entries[i] as [string, unknown]];
  }
  // fromEntries defines own properties, so a "__proto__" key stays a key.
  return Object.fromEntries(entries.map(([key, entry]) => [key, shuffleKeys(entry, random)]));
}

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 4_294_967_296;
  };
}

describe("canonicalJson", () => {
  it("is the same for a value and any key-shuffled deep copy of it", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (value, seed) => {
        expect(canonicalJson(shuffleKeys(value, seeded(seed)))).toBe(canonicalJson(value));
      }),
      { numRuns: 500 },
    );
  });

  it("parses back to the same JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        // JSON's own round trip is the reference: it maps -0 to 0, as any JSON text does.
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 500 },
    );
  });

  it("sorts keys by code unit at every depth, integer-like keys included, with no whitespace", () => {
    const value = { b: 1, a: { d: [1, { f: true, e: null }], c: "x y" }, "10": 2, "9": 3, B: 4 };
    expect(canonicalJson(value)).toBe('{"10":2,"9":3,"B":4,"a":{"c":"x y","d":[1,{"e":null,"f":true}]},"b":1}');
  });

  it("drops undefined object members and writes undefined array entries as null, like JSON.stringify", () => {
    expect(canonicalJson({ a: undefined, b: [undefined, 1] })).toBe('{"b":[null,1]}');
  });

  it("gives equal hashes for JSON-equal texts", () => {
    const a = JSON.parse('{"x": 1, "y": {"p": [1, 2], "q": "s"}}');
    const b = JSON.parse('{"y":{"q":"s","p":[1,2]},"x":1}');
    expect(sha256(canonicalJson(a)).equals(sha256(canonicalJson(b)))).toBe(true);
  });
});
