/** The client address from the socket and X-Forwarded-For, trusting exactly TRUST_PROXY hops. */
import { describe, expect, it } from "vitest";
import { resolveClientAddress } from "./client-address.ts";

describe("resolveClientAddress", () => {
  it("with no trusted proxy, X-Forwarded-For is ignored: the socket address it is", () => {
    expect(resolveClientAddress("203.0.113.5", "198.51.100.1", 0)).toBe("203.0.113.5");
    expect(resolveClientAddress("203.0.113.5", ["198.51.100.1", "198.51.100.2"], 0)).toBe("203.0.113.5");
  });

  it("N trusted hops take the address N from the right of the chain (X-Forwarded-For, then the socket)", () => {
    const chain = "192.0.2.66, 198.51.100.1, 10.0.0.2";
    expect(resolveClientAddress("10.0.0.3", chain, 1)).toBe("10.0.0.2");
    expect(resolveClientAddress("10.0.0.3", chain, 2)).toBe("198.51.100.1");
    // A client's forged entries are on the left, beyond the trusted hops: never chosen.
    expect(resolveClientAddress("10.0.0.3", `6.6.6.6, ${chain}`, 2)).toBe("198.51.100.1");
  });

  it("a chain shorter than the trusted hops gives its leftmost entry; a missing header the socket", () => {
    expect(resolveClientAddress("10.0.0.3", "198.51.100.1", 5)).toBe("198.51.100.1");
    expect(resolveClientAddress("10.0.0.3", undefined, 1)).toBe("10.0.0.3");
    expect(resolveClientAddress(undefined, undefined, 0)).toBe("unknown");
  });

  it("an IPv4 peer on a dual-stack socket is one address, with or without its ::ffff: prefix", () => {
    expect(resolveClientAddress("::ffff:127.0.0.1", undefined, 0)).toBe("127.0.0.1");
    expect(resolveClientAddress("::1", undefined, 0)).toBe("::1");
  });
});
