/** Bearer tokens: only the exact token passes, under any case of the scheme. */
import { describe, expect, it } from "vitest";
import { bearerMatches } from "./bearer.ts";

const TOKEN = "metrics-token-0123456789";

describe("bearerMatches", () => {
  it("accepts exactly the token", () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`bearer ${TOKEN}`, TOKEN)).toBe(true);
  });

  it.each([null, "", "Bearer", "Bearer ", `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN} extra`, TOKEN])(
    "refuses %j",
    (header) => {
      expect(bearerMatches(header, TOKEN)).toBe(false);
    },
  );
});
