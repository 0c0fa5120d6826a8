/**
 * The one tenant-by-slug lookup, in its three forms: one slug or null, one
 * slug or not_found, and many slugs (memberships) with every missing one
 * named and a slug given twice counted once.
 */
import { describe, expect, it } from "vitest";
import { createUser, listUsers, setMemberships } from "../auth/users.ts";
import { AppError } from "../errors.ts";
import { uniqueSlug } from "../../test/webhooks.ts";
import { createTenant, findTenant, findTenants, tenantBySlug } from "./service.ts";

describe("tenant lookup by slug", () => {
  it("finds a tenant, or null / not_found naming the slug", async () => {
    const { tenant } = await createTenant({ slug: uniqueSlug() });
    expect((await tenantBySlug(tenant.slug))?.id).toBe(tenant.id);
    expect((await findTenant(tenant.slug)).id).toBe(tenant.id);
    expect(await tenantBySlug("no-such-tenant")).toBeNull();
    await expect(findTenant("no-such-tenant")).rejects.toMatchObject({ code: "not_found", message: 'no tenant with slug "no-such-tenant"' });
  });

  it("finds many in the order given, each once, and names every missing slug", async () => {
    const a = (await createTenant({ slug: uniqueSlug() })).tenant;
    const b = (await createTenant({ slug: uniqueSlug() })).tenant;
    expect((await findTenants([b.slug, a.slug, b.slug])).map((tenant) => tenant.id)).toEqual([b.id, a.id]);
    const error = await findTenants([a.slug, "missing-one", "missing-two"]).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: "not_found", message: 'no tenant with slug "missing-one", "missing-two"' });
  });

  it("a membership list naming a tenant twice makes one membership", async () => {
    const slug = (await createTenant({ slug: uniqueSlug() })).tenant.slug;
    const user = await createUser({ email: `twice-${slug}@test.example`, role: "viewer", tenantSlugs: [slug, slug] });
    await setMemberships(user.id, [slug, slug]);
    expect((await listUsers()).find((listed) => listed.id === user.id)?.tenants).toEqual([slug]);
  });
});
