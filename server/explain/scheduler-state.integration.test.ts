/** The worker named in an explanation is the process that made the claim id. */
import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { newClaimId } from "../worker/scheduler.ts";
import { workerOfClaim } from "./scheduler-state.ts";

describe("workerOfClaim", () => {
  it("takes the host and pid back out of a claim id made by the scheduler", () => {
    expect(workerOfClaim(newClaimId())).toBe(`${hostname()}:${process.pid}`);
  });
  it("leaves an id without a suffix as it is", () => {
    expect(workerOfClaim("manual")).toBe("manual");
  });
});
