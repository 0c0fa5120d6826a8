/**
 * safeNextPath never sends anyone off the origin, judged by Node's WHATWG URL
 * (the parser browsers implement; e2e/security.spec.ts asks Chromium too):
 * every known trick, then 20,000 generated strings over the characters that
 * change how a URL parses (fixed seed), resolved against the sign-in page's
 * URL. The control runs the same property over the old prefix check and
 * must find a way out, so the property can fail.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ESCAPES, arbitraryNext } from "../../test/safe-next-candidates.ts";
import { safeNextPath } from "./safe-next.ts";

const PAGE = "https://app.example/sign-in?next=x";
const staysHome = (target: string) => new URL(target, PAGE).origin === "https://app.example";

/** The check this replaced: prefixes only, blind to what the parser drops or rewrites. */
function prefixCheck(value: string): string {
  if (!value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) return "/";
  return value;
}

describe("safeNextPath", () => {
  it.each(ESCAPES)("%j stays on the origin", (candidate) => {
    expect(staysHome(safeNextPath(candidate))).toBe(true);
  });

  it("keeps ordinary paths, their query and fragment", () => {
    expect(safeNextPath("/tenants/acme?range=24h#latency")).toBe("/tenants/acme?range=24h#latency");
    expect(safeNextPath("/admin/users")).toBe("/admin/users");
    expect(safeNextPath(["/admin", "/other"])).toBe("/admin");
  });

  it("sends anything else home: nothing, another origin, or back to sign-in", () => {
    for (const value of [undefined, null, "", [], "evil.example", "https://app.example/x", "/sign-in", "/sign-in?next=/x", "/./sign-in"]) {
      expect(safeNextPath(value as string | undefined)).toBe("/");
    }
  });

  it("20,000 generated strings: every result stays on the origin and is its own resolution", () => {
    let cases = 0;
    fc.assert(
      fc.property(arbitraryNext, (candidate) => {
        cases++;
        const path = safeNextPath(candidate);
        const resolved = new URL(path, PAGE);
        return resolved.origin === "https://app.example" && `${resolved.pathname}${resolved.search}${resolved.hash}` === path;
      }),
      { seed: 20261202, numRuns: 20_000 },
    );
    console.log(`safeNextPath: ${cases} generated cases`);
  });

  it("control: the same property finds a way out through the old prefix check", () => {
    const result = fc.check(
      fc.property(arbitraryNext, (candidate) => staysHome(prefixCheck(candidate))),
      { seed: 20261202, numRuns: 20_000 },
    );
    expect(result.failed).toBe(true);
    expect(ESCAPES.filter((candidate) => !staysHome(prefixCheck(candidate))).length).toBeGreaterThan(3);
  });
});
