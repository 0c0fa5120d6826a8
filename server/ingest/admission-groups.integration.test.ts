/**
 * Single-event admissions decided together (AdmissionGroups), against the real
 * Redis: the requests of one tenant in one event-loop turn cost one decision
 * when the bucket holds them all, and when it does not, exactly the answers of
 * one decision at a time, in arrival order.
 */
import { describe, expect, it } from "vitest";
import { AppError } from "../errors.ts";
import { store } from "../redis.ts";
import { AdmissionGroups, admit, type AdmittedTenant } from "./rate-limit.ts";

let nextTenantId = 1;
function tenant(limits: Partial<AdmittedTenant>): AdmittedTenant {
  return { id: nextTenantId++, ratePerSecond: 0.001, burst: 5, dailyQuota: null, ...limits };
}

type Answer = "admitted" | string;

async function answers(calls: Promise<void>[]): Promise<Answer[]> {
  return Promise.all(
    calls.map((call) => call.then(() => "admitted" as const).catch((error: unknown) => (error instanceof AppError ? error.code : String(error)))),
  );
}

describe("admissions decided together", () => {
  it("20 concurrent requests of one tenant with room for all: all admitted, one decision", async () => {
    const groups = new AdmissionGroups({ store });
    const t = tenant({ burst: 100 });
    const got = await answers(Array.from({ length: 20 }, () => groups.admit(t, 1)));
    expect(got).toEqual(Array.from({ length: 20 }, () => "admitted"));
    expect(groups.decisions).toBe(1);
  });

  it("two tenants in one turn: a decision each", async () => {
    const groups = new AdmissionGroups({ store });
    const a = tenant({ burst: 100 });
    const b = tenant({ burst: 100 });
    const got = await answers([groups.admit(a, 1), groups.admit(b, 1), groups.admit(a, 1), groups.admit(b, 1)]);
    expect(got).toEqual(["admitted", "admitted", "admitted", "admitted"]);
    expect(groups.decisions).toBe(2);
  });

  it("12 concurrent requests against a bucket of 5: the first 5 admitted and 7 rate-limited, as one at a time gives", async () => {
    const grouped = tenant({ burst: 5 });
    const groups = new AdmissionGroups({ store });
    const together = await answers(Array.from({ length: 12 }, () => groups.admit(grouped, 1)));

    const alone = tenant({ burst: 5 });
    const oneByOne: Answer[] = [];
    for (let i = 0; i < 12; i++) oneByOne.push(...(await answers([admit(alone, 1, { store })])));

    expect(oneByOne).toEqual([...Array.from({ length: 5 }, () => "admitted"), ...Array.from({ length: 7 }, () => "rate_limited")]);
    expect(together).toEqual(oneByOne);
  });

  it("a daily quota with room for 3 of 8: the first 3 admitted, the rest refused for the quota", async () => {
    const groups = new AdmissionGroups({ store });
    const t = tenant({ burst: 100, ratePerSecond: 1_000, dailyQuota: 3 });
    const got = await answers(Array.from({ length: 8 }, () => groups.admit(t, 1)));
    expect(got).toEqual([...Array.from({ length: 3 }, () => "admitted"), ...Array.from({ length: 5 }, () => "quota_exceeded")]);
  });

  it("requests in different turns are decided separately", async () => {
    const groups = new AdmissionGroups({ store });
    const t = tenant({ burst: 100 });
    await groups.admit(t, 1);
    await groups.admit(t, 1);
    expect(groups.decisions).toBe(2);
  });
});
