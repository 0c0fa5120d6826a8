/**
 * Standard Webhooks signature verification, without I/O: several secrets,
 * several header entries, malformed entries, the replay window, and the
 * constant-time path (every well-formed entry is compared with every secret's
 * MAC, wherever a match is; observed by counting comparisons, not by timing).
 */
import type * as crypto from "node:crypto";
import { timingSafeEqual } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AppError } from "../errors.ts";
import { generateSecret, sign, TIMESTAMP_TOLERANCE_SECONDS, verifySignature, type SignedRequest } from "./signature.ts";

vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof crypto>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});
afterEach(() => {
  vi.mocked(timingSafeEqual).mockClear();
});

const NOW = 1_795_000_000;
const body = Buffer.from('{"type":"item.created","timestamp":"2026-11-27T10:00:00Z","data":{"id":"item-1","version":1}}');

function request(secret: string, overrides: Partial<SignedRequest> = {}): SignedRequest {
  const id = overrides.id ?? "msg_1";
  const timestamp = overrides.timestamp ?? String(NOW);
  return { id, timestamp, body, signatureHeader: sign(secret, id, Number(timestamp), overrides.body ?? body), ...overrides };
}

/** The AppError code verifySignature throws, or "ok". */
function outcome(signed: SignedRequest, secrets: string[], now = NOW): string {
  try {
    verifySignature(signed, secrets, now);
    return "ok";
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
}

describe("verifySignature", () => {
  const secret = generateSecret();
  const other = generateSecret();

  it("accepts a signature made by sign() with the same secret", () => {
    expect(outcome(request(secret), [secret])).toBe("ok");
  });

  it.each([
    ["id", { id: "msg_2" }],
    ["timestamp", { timestamp: String(NOW + 1) }],
    ["body", { body: Buffer.from(body.toString().replace("item-1", "item-2")) }],
  ])("the MAC covers the %s: changing it invalidates the signature", (_, change) => {
    const signed = request(secret);
    expect(outcome({ ...signed, ...change }, [secret])).toBe("invalid_signature");
  });

  it("refuses a signature made with another secret", () => {
    expect(outcome(request(other), [secret])).toBe("invalid_signature");
  });

  it("any one of several secrets verifies, whichever position it holds", () => {
    expect(outcome(request(secret), [secret, other])).toBe("ok");
    expect(outcome(request(secret), [other, secret])).toBe("ok");
    expect(outcome(request(secret), [other])).toBe("invalid_signature");
  });

  it("any one valid entry among several verifies, whichever position it holds", () => {
    const valid = request(secret).signatureHeader;
    const wrong = request(other).signatureHeader;
    for (const header of [`${valid} ${wrong} ${wrong}`, `${wrong} ${valid} ${wrong}`, `${wrong} ${wrong} ${valid}`]) {
      expect(outcome({ ...request(secret), signatureHeader: header }, [secret])).toBe("ok");
    }
  });

  it.each([
    ["no comma", "v1"],
    ["empty MAC", "v1,"],
    ["no version", ",AAAA"],
    ["three parts", "v1,AAAA,BBBB"],
    ["not base64", "v1,!!!!"],
    ["empty entries from repeated spaces", "  "],
    ["a MAC of the wrong length", `v1,${Buffer.alloc(16).toString("base64")}`],
  ])("a malformed entry (%s) is refused alone and skipped beside a valid one", (_, entry) => {
    const valid = request(secret).signatureHeader;
    expect(outcome({ ...request(secret), signatureHeader: entry }, [secret])).toBe("invalid_signature");
    expect(outcome({ ...request(secret), signatureHeader: `${entry} ${valid}` }, [secret])).toBe("ok");
  });

  it("a truncated MAC (a prefix of the right one) is refused", () => {
    const mac = Buffer.from(request(secret).signatureHeader.slice("v1,".length), "base64");
    expect(outcome({ ...request(secret), signatureHeader: `v1,${mac.subarray(0, 16).toString("base64")}` }, [secret])).toBe("invalid_signature");
  });

  it("a v2 entry carrying the right MAC is refused: only v1 entries count", () => {
    const mac = request(secret).signatureHeader.slice("v1,".length);
    expect(outcome({ ...request(secret), signatureHeader: `v2,${mac}` }, [secret])).toBe("invalid_signature");
  });

  it.each(["abc", "", "1e9", "1795000000.5", "-1795000000", "0x6afc4a00", " 1795000000", "1795000000000"])(
    "a non-numeric or malformed timestamp (%j) is refused before any signature check",
    (timestamp) => {
      const signed = request(secret, { timestamp: String(NOW) });
      expect(outcome({ ...signed, timestamp }, [secret])).toBe("timestamp_out_of_range");
      expect(timingSafeEqual).not.toHaveBeenCalled();
    },
  );

  it("a timestamp exactly at the tolerance verifies, one second past it is refused, both ways", () => {
    const at = (offset: number) => request(secret, { timestamp: String(NOW + offset) });
    expect(outcome(at(-TIMESTAMP_TOLERANCE_SECONDS), [secret])).toBe("ok");
    expect(outcome(at(TIMESTAMP_TOLERANCE_SECONDS), [secret])).toBe("ok");
    expect(outcome(at(-TIMESTAMP_TOLERANCE_SECONDS - 1), [secret])).toBe("timestamp_out_of_range");
    expect(outcome(at(TIMESTAMP_TOLERANCE_SECONDS + 1), [secret])).toBe("timestamp_out_of_range");
  });

  it("compares every well-formed entry with every secret, even after an early match", () => {
    const valid = request(secret).signatureHeader;
    const wrong = request(other).signatureHeader;
    const header = `${valid} ${wrong} ${wrong} v1,AAAA`; // the last has the wrong length: not compared
    expect(outcome({ ...request(secret), signatureHeader: header }, [secret, other])).toBe("ok");
    expect(timingSafeEqual).toHaveBeenCalledTimes(2 * 3);

    vi.mocked(timingSafeEqual).mockClear();
    expect(outcome({ ...request(secret), signatureHeader: `${wrong} ${wrong} ${valid}` }, [other, secret])).toBe("ok");
    expect(timingSafeEqual).toHaveBeenCalledTimes(2 * 3);
  });
});

describe("sign", () => {
  it("takes the secret with or without its whsec_ prefix", () => {
    const secret = generateSecret();
    expect(sign(secret, "msg_1", NOW, body)).toBe(sign(secret.slice("whsec_".length), "msg_1", NOW, body));
  });

  it("gives a v1 entry with a 32-byte MAC, the same for a string or Buffer body", () => {
    const secret = generateSecret();
    const header = sign(secret, "msg_1", NOW, body);
    expect(header).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(sign(secret, "msg_1", NOW, body.toString())).toBe(header);
  });
});
