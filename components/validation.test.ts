/**
 * The forms and the server judge the same input the same way: what a form
 * lets through, the server's schema accepts, and what it stops, the schema
 * refuses, at the edges of every bound (a 63-character slug and a 64-character
 * one, weight 1,000 and 1,001, a password of 12 characters and one of 11, a
 * grace of 720 hours and a little more).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_QUOTAS, QUOTA_BOUNDS, ZCreateTenantInput, ZGraceHours, ZQuotas, ZTenantSlug, type QuotaField } from "@/server/schemas/tenant.ts";
import { ZChangePasswordInput, ZCreateUserInput, ZPassword } from "@/server/schemas/user.ts";
import {
  DEFAULT_QUOTA_INPUTS,
  parseGraceHours,
  parseQuotas,
  quotaRange,
  validateEmail,
  validatePassword,
  validateSlug,
  validateTenantName,
  type QuotaInputs,
} from "./validation.ts";

/** The default inputs with one field's text replaced. */
function withQuota(field: QuotaField, text: string): QuotaInputs {
  return { ...DEFAULT_QUOTA_INPUTS, [field]: text };
}

/** Whether the form accepts `text` for `field`, and whether the server accepts the number it reads as. */
function formAndServer(field: QuotaField, text: string): { form: boolean; server: boolean } {
  const form = parseQuotas(withQuota(field, text)).errors === null;
  const server = ZQuotas.safeParse({ ...DEFAULT_QUOTAS, [field]: Number(text) }).success;
  return { form, server };
}

describe("slug", () => {
  const cases: [string, boolean][] = [
    ["a".repeat(63), true],
    ["a".repeat(64), false],
    ["a", true],
    ["acme-2", true],
    ["-acme", false],
    ["acme-", false],
    ["Acme", false],
    ["ac_me", false],
  ];
  for (const [slug, valid] of cases) {
    it(`${JSON.stringify(slug.length > 20 ? `${slug.length} × a` : slug)}: ${valid ? "accepted" : "refused"} by both`, () => {
      expect(validateSlug(slug) === null).toBe(valid);
      expect(ZTenantSlug.safeParse(slug).success).toBe(valid);
      expect(ZCreateTenantInput.safeParse({ slug }).success).toBe(valid);
    });
  }

  it("an empty slug is required; a bad one gets the server's own words", () => {
    expect(validateSlug("")).toBe("required");
    expect(validateSlug("-acme")).toBe("must be 1–63 lowercase letters, digits or dashes, not starting or ending with a dash");
  });
});

describe("tenant name", () => {
  it("200 characters pass both, 201 neither", () => {
    expect(validateTenantName("n".repeat(200))).toBeNull();
    expect(ZCreateTenantInput.safeParse({ slug: "a", name: "n".repeat(200) }).success).toBe(true);
    expect(validateTenantName("n".repeat(201))).toBe("must be at most 200 characters");
    expect(ZCreateTenantInput.safeParse({ slug: "a", name: "n".repeat(201) }).success).toBe(false);
  });
});

describe("quotas", () => {
  const edges: [QuotaField, string, boolean][] = [
    ["weight", "1000", true],
    ["weight", "1001", false],
    ["weight", "1", true],
    ["weight", "0", false],
    ["weight", "1.5", false],
    ["ratePerSecond", "0", false],
    ["ratePerSecond", "0.001", true],
    ["ratePerSecond", "1000000", true],
    ["ratePerSecond", "1000000.5", false],
    ["burst", "10000000", true],
    ["burst", "10000001", false],
    ["dailyQuota", "10000000000", true],
    ["dailyQuota", "10000000001", false],
    ["dailyQuota", "0", false],
    ["maxConcurrency", "64", true],
    ["maxConcurrency", "65", false],
  ];
  for (const [field, text, valid] of edges) {
    it(`${field} ${text}: ${valid ? "accepted" : "refused"} by both`, () => {
      expect(formAndServer(field, text)).toEqual({ form: valid, server: valid });
    });
  }

  it("any number typed into any quota is accepted by the form exactly when the server accepts it", () => {
    const fields = Object.keys(QUOTA_BOUNDS) as QuotaField[];
    const near = (n: number) => [n - 1, n - 0.5, n, n + 0.5, n + 1];
    const interesting = fields.flatMap((field) => {
      const bounds = QUOTA_BOUNDS[field];
      return [...near("greaterThan" in bounds ? bounds.greaterThan : bounds.min), ...near(bounds.max)];
    });
    fc.assert(
      fc.property(
        fc.constantFrom(...fields),
        fc.oneof(fc.constantFrom(...interesting), fc.double({ min: -1e11, max: 1e11, noNaN: true }), fc.integer({ min: -10, max: 2_000 })),
        (field, value) => {
          const { form, server } = formAndServer(field, String(value));
          expect(form).toBe(server);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("says what is wrong in the form's words, with the schema's bounds", () => {
    expect(parseQuotas(withQuota("weight", "1001")).errors).toEqual({ weight: "must be between 1 and 1,000" });
    expect(parseQuotas(withQuota("weight", "2.5")).errors).toEqual({ weight: "must be a whole number" });
    expect(parseQuotas(withQuota("weight", "")).errors).toEqual({ weight: "required" });
    expect(parseQuotas(withQuota("weight", "0x10")).errors).toEqual({ weight: "must be a number" });
    expect(parseQuotas(withQuota("ratePerSecond", "0")).errors).toEqual({ ratePerSecond: "must be greater than 0" });
    expect(parseQuotas(withQuota("ratePerSecond", "2000000")).errors).toEqual({ ratePerSecond: "must be at most 1,000,000" });
    expect(quotaRange("weight")).toBe("1–1,000");
    expect(quotaRange("ratePerSecond")).toBe("> 0, ≤ 1,000,000");
  });

  it("an empty daily quota is unlimited, on both sides", () => {
    const parsed = parseQuotas(withQuota("dailyQuota", " "));
    expect(parsed.values?.dailyQuota).toBeNull();
    expect(ZQuotas.safeParse(parsed.values).success).toBe(true);
  });
});

describe("password", () => {
  it("12 characters pass both, 11 neither, with the same message", () => {
    expect(validatePassword("p".repeat(12))).toBeNull();
    expect(ZPassword.safeParse("p".repeat(12)).success).toBe(true);
    expect(ZCreateUserInput.safeParse({ email: "a@b.example", role: "viewer", password: "p".repeat(12) }).success).toBe(true);

    expect(validatePassword("p".repeat(11))).toBe("must be at least 12 characters");
    expect(ZPassword.safeParse("p".repeat(11)).success).toBe(false);
    expect(ZCreateUserInput.safeParse({ email: "a@b.example", role: "viewer", password: "p".repeat(11) }).success).toBe(false);
  });

  it("a change needs the current password and a new one of at least 12 characters that differs from it", () => {
    const issues = (currentPassword: string, newPassword: string) =>
      ZChangePasswordInput.safeParse({ currentPassword, newPassword }).error?.issues.map((issue) => [issue.path.join("."), issue.message]) ?? [];
    expect(issues("old password here", "p".repeat(12))).toEqual([]);
    expect(issues("old password here", "p".repeat(11))).toEqual([["newPassword", "must be at least 12 characters"]]);
    expect(issues("", "p".repeat(12))).toEqual([["currentPassword", "required"]]);
    expect(issues("p".repeat(12), "p".repeat(12))).toEqual([["newPassword", "must differ from the current password"]]);
  });
});

describe("email", () => {
  const cases: [string, boolean][] = [
    ["someone@example.com", true],
    ["  someone@example.com ", true],
    ["someone@", false],
    ["not an email", false],
  ];
  for (const [email, valid] of cases) {
    it(`${JSON.stringify(email)}: ${valid ? "accepted" : "refused"} by both (the form sends it trimmed)`, () => {
      expect(validateEmail(email) === null).toBe(valid);
      expect(ZCreateUserInput.safeParse({ email: email.trim(), role: "viewer" }).success).toBe(valid);
    });
  }
});

describe("rotation grace", () => {
  const cases: [string, boolean][] = [
    ["0", true],
    ["24", true],
    ["720", true],
    ["720.5", false],
    ["721", false],
    ["8760", false],
    ["-1", false],
    ["", false],
  ];
  for (const [text, valid] of cases) {
    it(`${JSON.stringify(text)} hours: ${valid ? "accepted" : "refused"} by both`, () => {
      expect(parseGraceHours(text).error === null).toBe(valid);
      expect(text !== "" && ZGraceHours.safeParse(Number(text)).success).toBe(valid);
    });
  }

  it("a refusal names the bound", () => {
    expect(parseGraceHours("721").error).toBe("Grace period must be between 0 and 720 hours.");
  });
});
