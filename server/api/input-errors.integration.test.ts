/**
 * How a rejected input reaches the browser, over the real tRPC route: 400
 * with zod's messages per field path, nested fields included, so a form can
 * put each message beside its field. Nothing else of the input's handling
 * leaks.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { POST as trpcPost } from "../../app/api/trpc/[trpc]/route.ts";
import { SESSION_COOKIE, createSession } from "../auth/session.ts";
import { createUser } from "../auth/users.ts";
import { createTenant } from "../tenants/service.ts";

let cookie = "";
let slug = "";

beforeAll(async () => {
  const admin = await createUser({ email: "input-errors-admin@test.example", role: "admin", password: "correct horse battery" });
  cookie = `${SESSION_COOKIE}=${encodeURIComponent((await createSession(admin.id)).token)}`;
  slug = (await createTenant({ slug: "input-errors" })).tenant.slug;
});

async function mutate(path: string, input: unknown): Promise<{ status: number; error: { message: string; data: { code: string; zodError: unknown } } }> {
  const response = await trpcPost(
    new Request(`http://app.test/api/trpc/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", host: "app.test", cookie },
      body: JSON.stringify({ json: input }),
    }),
  );
  const body = (await response.json()) as { error: { json: { message: string; data: { code: string; zodError: unknown } } } };
  return { status: response.status, error: body.error.json };
}

describe("input errors over tRPC", () => {
  it("name each bad field of a nested input by its path", async () => {
    const { status, error } = await mutate("admin.updateQuotas", { tenant: slug, quotas: { weight: 0, burst: 1.5 } });
    expect(status).toBe(400);
    expect(error.data.code).toBe("BAD_REQUEST");
    expect(error.data.zodError).toEqual({
      formErrors: [],
      fieldErrors: { "quotas.weight": [expect.stringContaining(">=1")], "quotas.burst": [expect.stringContaining("expected int")] },
    });
  });

  it("name a bad top-level field by its name", async () => {
    const { status, error } = await mutate("admin.createUser", { email: "not an email", role: "viewer" });
    expect(status).toBe(400);
    expect(Object.keys((error.data.zodError as { fieldErrors: object }).fieldErrors)).toEqual(["email"]);
  });

  it("report an input that is not an object at all as a form error", async () => {
    const { status, error } = await mutate("admin.updateQuotas", "quotas");
    expect(status).toBe(400);
    expect((error.data.zodError as { formErrors: string[] }).formErrors).toHaveLength(1);
  });
});
