/**
 * The access matrix: every tRPC procedure × (anonymous, viewer of another
 * tenant, viewer of this tenant, admin) gets the right allow or deny. The
 * procedures are enumerated from the router, so a procedure added without a
 * row here fails this test instead of shipping unchecked.
 */
import { TRPCError } from "@trpc/server";
import { beforeAll, describe, expect, it } from "vitest";
import { createSession, userForSession, type SessionUser } from "../auth/session.ts";
import { createUser } from "../auth/users.ts";
import { db } from "../db.ts";
import { createTenant } from "../tenants/service.ts";
import { appRouter, createCaller } from "./root.ts";
import { createContextInner } from "./trpc.ts";

type Role = "anonymous" | "otherViewer" | "viewer" | "admin";
type Rule = "public" | "signedIn" | "tenant" | "admin";

const ALLOWED: Record<Rule, Role[]> = {
  public: ["anonymous", "otherViewer", "viewer", "admin"],
  signedIn: ["otherViewer", "viewer", "admin"],
  tenant: ["viewer", "admin"],
  admin: ["admin"],
};

let slug: string;
let throwawayUserId: () => Promise<number>;
const users = {} as Record<Role, SessionUser | null>;

const hour = 3_600_000;
/** Each procedure's rule and an input naming the tenant under test. */
const MATRIX: Record<string, { rule: Rule; input: () => unknown | Promise<unknown> }> = {
  "health.check": { rule: "public", input: () => undefined },
  "auth.me": { rule: "public", input: () => undefined },
  "tenants.list": { rule: "signedIn", input: () => undefined },
  "tenants.page": { rule: "signedIn", input: () => ({}) },
  "tenants.get": { rule: "tenant", input: () => ({ tenant: slug }) },
  "stats.series": { rule: "tenant", input: () => ({ tenant: slug, from: new Date(Date.now() - hour), to: new Date() }) },
  "stats.backlog": { rule: "tenant", input: () => ({ tenant: slug }) },
  "stats.fairness": { rule: "signedIn", input: () => ({ from: new Date(Date.now() - hour), to: new Date() }) },
  "items.list": { rule: "tenant", input: () => ({ tenant: slug }) },
  "items.history": { rule: "tenant", input: () => ({ tenant: slug, itemId: "item-1" }) },
  "explain.item": { rule: "tenant", input: () => ({ tenant: slug, itemId: "item-1" }) },
  "explain.event": { rule: "tenant", input: () => ({ tenant: slug, eventId: "event-1" }) },
  "explain.eta": { rule: "tenant", input: () => ({ tenant: slug }) },
  "sources.status": { rule: "tenant", input: () => ({ tenant: slug }) },
  "sources.set": { rule: "admin", input: () => ({ tenant: slug, source: { url: "http://127.0.0.1:9/feed", token: "t0ken" } }) },
  "sources.pause": { rule: "admin", input: () => ({ tenant: slug }) },
  "sources.resume": { rule: "admin", input: () => ({ tenant: slug }) },
  "sources.remove": { rule: "admin", input: () => ({ tenant: slug }) },
  "alerts.forTenant": { rule: "tenant", input: () => ({ tenant: slug }) },
  "alerts.firing": { rule: "signedIn", input: () => undefined },
  "alerts.setRule": { rule: "admin", input: () => ({ tenant: slug, rule: { rule: "dead", above: 1 } }) },
  "alerts.removeRule": { rule: "admin", input: () => ({ tenant: slug, rule: "source-failing-ms" }) },
  "admin.createTenant": { rule: "admin", input: () => ({ slug: `made-${Math.random().toString(36).slice(2, 10)}` }) },
  "admin.updateQuotas": { rule: "admin", input: () => ({ tenant: slug, quotas: { burst: 300 } }) },
  "admin.rotateSecret": { rule: "admin", input: () => ({ tenant: slug, graceHours: 1 }) },
  "admin.deadLetters": { rule: "admin", input: () => ({ tenant: slug }) },
  "admin.replayDead": { rule: "admin", input: () => ({ tenant: slug }) },
  "admin.users": { rule: "admin", input: () => undefined },
  "admin.createUser": { rule: "admin", input: () => ({ email: `new-${Math.random().toString(36).slice(2, 10)}@test.example`, role: "viewer" }) },
  "admin.deleteUser": { rule: "admin", input: async () => ({ userId: await throwawayUserId() }) },
  "admin.setMemberships": { rule: "admin", input: async () => ({ userId: await throwawayUserId(), tenants: [slug] }) },
  "admin.revokeSessions": { rule: "admin", input: async () => ({ userId: await throwawayUserId() }) },
};

async function signedInAs(email: string, role: "admin" | "viewer", tenantSlugs: string[]): Promise<SessionUser> {
  const user = await createUser({ email, role, password: "correct horse battery", tenantSlugs });
  const { token } = await createSession(user.id);
  return (await userForSession(token)) as SessionUser;
}

beforeAll(async () => {
  slug = (await createTenant({ slug: "this-tenant" })).tenant.slug;
  const other = (await createTenant({ slug: "other-tenant" })).tenant.slug;
  users.anonymous = null;
  users.otherViewer = await signedInAs("other@test.example", "viewer", [other]);
  users.viewer = await signedInAs("viewer@test.example", "viewer", [slug]);
  users.admin = await signedInAs("admin@test.example", "admin", []);
  let n = 0;
  throwawayUserId = async () => (await createUser({ email: `throwaway-${n++}@test.example`, role: "viewer" })).id;
});

async function call(role: Role, path: string, input: unknown): Promise<"allowed" | TRPCError["code"]> {
  const caller = createCaller(createContextInner({ user: users[role] }));
  const procedure = path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller) as (input: unknown) => Promise<unknown>;
  try {
    await procedure(input);
    return "allowed";
  } catch (error) {
    if (!(error instanceof TRPCError)) throw error;
    // A domain answer (no such item, already exists) got past the access check; any other
    // error is reported as itself, so a procedure that fails for an allowed caller fails here.
    return error.code === "NOT_FOUND" || error.code === "CONFLICT" ? "allowed" : error.code;
  }
}

describe("access matrix", () => {
  it("has a row for every procedure in the router", () => {
    expect(Object.keys(appRouter._def.procedures).sort()).toEqual(Object.keys(MATRIX).sort());
  });

  for (const [path, { rule, input }] of Object.entries(MATRIX)) {
    for (const role of ["anonymous", "otherViewer", "viewer", "admin"] as const) {
      const expected = ALLOWED[rule].includes(role) ? "allowed" : role === "anonymous" ? "UNAUTHORIZED" : "FORBIDDEN";
      it(`${path} × ${role}: ${expected}`, async () => {
        expect(await call(role, path, await input())).toBe(expected);
      });
    }
  }

  it("a refused mutation changes nothing", async () => {
    const before = await db.tenant.findUniqueOrThrow({ where: { slug }, select: { burst: true, secret: true } });
    expect(await call("viewer", "admin.updateQuotas", { tenant: slug, quotas: { burst: 1 } })).toBe("FORBIDDEN");
    expect(await call("otherViewer", "admin.rotateSecret", { tenant: slug, graceHours: 1 })).toBe("FORBIDDEN");
    expect(await db.tenant.findUniqueOrThrow({ where: { slug }, select: { burst: true, secret: true } })).toEqual(before);
  });

  it("a viewer sees the source's status but never its token, and cannot change it", async () => {
    const admin = createCaller(createContextInner({ user: users.admin }));
    await admin.sources.set({ tenant: slug, source: { url: "http://127.0.0.1:9/feed", token: "never-shown-token" } });
    const viewer = createCaller(createContextInner({ user: users.viewer }));
    const status = await viewer.sources.status({ tenant: slug });
    expect(status).toMatchObject({ tenant: slug, url: "http://127.0.0.1:9/feed", hasToken: true });
    expect(JSON.stringify(status)).not.toContain("never-shown-token");
    expect(await call("viewer", "sources.pause", { tenant: slug })).toBe("FORBIDDEN");
    expect((await admin.sources.status({ tenant: slug }))?.paused).toBe(false);
  });

  it("a viewer asking for an unknown tenant is refused the same way as for a real one (no enumeration)", async () => {
    expect(await call("otherViewer", "tenants.get", { tenant: "does-not-exist" })).toBe("FORBIDDEN");
    expect(await call("otherViewer", "tenants.get", { tenant: slug })).toBe("FORBIDDEN");
  });

  it("tenants.list shows a viewer only their tenants", async () => {
    const caller = createCaller(createContextInner({ user: users.viewer }));
    expect((await caller.tenants.list()).map((tenant) => tenant.slug)).toEqual([slug]);
  });

  it("every procedure that names a tenant: a missing one is NOT_FOUND for an admin, FORBIDDEN for a viewer, whether a member elsewhere or not", async () => {
    const named: string[] = [];
    for (const [path, { input }] of Object.entries(MATRIX)) {
      const given = await input();
      if (typeof given === "object" && given !== null && "tenant" in given) named.push(path);
    }
    // The admin rung is among them, not only the viewer's one.
    expect(named).toEqual(
      expect.arrayContaining([
        "tenants.get",
        "admin.updateQuotas",
        "admin.rotateSecret",
        "admin.deadLetters",
        "admin.replayDead",
        "sources.set",
        "sources.remove",
      ]),
    );

    for (const path of named) {
      const given = { ...((await MATRIX[path]?.input()) as object), tenant: "no-such-tenant" };
      const codes: Record<string, string> = {};
      for (const role of ["anonymous", "otherViewer", "viewer", "admin"] as const) {
        const caller = createCaller(createContextInner({ user: users[role] }));
        const procedure = path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller) as (
          input: unknown,
        ) => Promise<unknown>;
        codes[role] = await procedure(given).then(
          () => "allowed",
          (error: unknown) => (error instanceof TRPCError ? error.code : String(error)),
        );
      }
      expect({ path, codes }).toEqual({ path, codes: { anonymous: "UNAUTHORIZED", otherViewer: "FORBIDDEN", viewer: "FORBIDDEN", admin: "NOT_FOUND" } });
    }
  });

  it("tenants.list, tenants.page and stats.fairness show each user the same tenants: a viewer their own, an admin every one", async () => {
    const everyTenant = (await db.tenant.findMany({ select: { slug: true }, orderBy: { slug: "asc" } })).map((tenant) => tenant.slug);
    expect(everyTenant).toEqual(expect.arrayContaining(["other-tenant", slug]));
    const expected = { otherViewer: ["other-tenant"], viewer: [slug], admin: everyTenant };
    for (const role of ["otherViewer", "viewer", "admin"] as const) {
      const caller = createCaller(createContextInner({ user: users[role] }));
      const listed = (await caller.tenants.list()).map((tenant) => tenant.slug);
      const paged = (await caller.tenants.page({ limit: 100 })).tenants.map((tenant) => tenant.slug).sort();
      // Nothing was processed, so the busiest are the first by slug, and "others" counts the rest.
      const fairness = await caller.stats.fairness({ from: new Date(Date.now() - hour), to: new Date() });
      const shown = [...fairness.busiest.map((row) => row.slug), ...Array<string>(fairness.others?.tenants ?? 0).fill("…")];
      const expectedShown = [...expected[role].slice(0, fairness.busiest.length), ...Array<string>(expected[role].length - fairness.busiest.length).fill("…")];
      expect({ role, listed, paged, fairness: shown }).toEqual({ role, listed: expected[role], paged: expected[role], fairness: expectedShown });
    }
  });
});
