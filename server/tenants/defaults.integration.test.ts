/**
 * The default quotas are written in two places: the tenants table's column
 * defaults (migrations) and DEFAULT_QUOTAS (server/schemas/tenant.ts: what
 * createTenant fills in, and what the admin form's "Create tenant" starts
 * with, through its text inputs). They must agree, or a tenant's quotas
 * would depend on how it was created.
 */
import { describe, expect, it } from "vitest";
import { pool } from "../db.ts";
import { DEFAULT_QUOTA_INPUTS, parseQuotas } from "../../components/validation.ts";
import { DEFAULT_QUOTAS } from "../schemas/tenant.ts";
import { createTenant } from "./service.ts";
import { uniqueSlug } from "../../test/webhooks.ts";

describe("default quotas", () => {
  it("the database's column defaults are DEFAULT_QUOTAS", async () => {
    const slug = uniqueSlug();
    const { rows } = await pool.query<Record<string, unknown>>(
      `INSERT INTO tenants (slug, name, secret, updated_at) VALUES ($1, $1, 'whsec_x', now())
       RETURNING rate_per_second AS "ratePerSecond", burst, daily_quota AS "dailyQuota", weight, max_concurrency AS "maxConcurrency",
                 retention_days AS "retentionDays"`,
      [slug],
    );
    expect(rows[0]).toEqual(DEFAULT_QUOTAS);
  });

  it("a tenant created without quotas gets DEFAULT_QUOTAS", async () => {
    const { tenant } = await createTenant({ slug: uniqueSlug() });
    const { ratePerSecond, burst, dailyQuota, weight, maxConcurrency, retentionDays } = tenant;
    expect({ ratePerSecond, burst, dailyQuota, weight, maxConcurrency, retentionDays }).toEqual(DEFAULT_QUOTAS);
  });

  it("the admin form starts from DEFAULT_QUOTAS", () => {
    expect(parseQuotas(DEFAULT_QUOTA_INPUTS).values).toEqual(DEFAULT_QUOTAS);
  });
});
