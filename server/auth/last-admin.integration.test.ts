/**
 * The last admin is never deleted, not even by two admins deleting each other
 * at once, over the real tRPC route on real HTTP: in each of 10 rounds the
 * only two admins send `admin.deleteUser` for each other concurrently, and at
 * least one admin is left (exactly one of the two deletions succeeds). The
 * control runs the same rounds with the admin rows read unlocked
 * (TIDEMARK_FAULT=unlocked-last-admin, test-only) and must end some round
 * with no admin at all, so the rounds can see the race.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { POST as trpcPost } from "../../app/api/trpc/[trpc]/route.ts";
import { route, serve, type TestServer } from "../../test/http.ts";
import { db } from "../db.ts";
import { env } from "../env.ts";
import { SESSION_COOKIE, createSession } from "./session.ts";
import { createUser } from "./users.ts";

const ROUNDS = 10;
const PASSWORD = "correct horse battery staple";

let server: TestServer;
let round = 0;

beforeAll(async () => {
  server = await serve([route("POST", "/api/trpc/[trpc]", trpcPost as never)]);
});

afterAll(async () => {
  await server.close();
});

afterEach(() => {
  env.TIDEMARK_FAULT = undefined;
});

interface Admin {
  id: number;
  cookie: string;
}

/** Leaves exactly two admins, each signed in. */
async function twoAdmins(): Promise<[Admin, Admin]> {
  await db.user.deleteMany({ where: { role: "admin" } });
  const made = await Promise.all(
    [0, 1].map(async (n) => {
      const user = await createUser({ email: `admin-${round}-${n}@test.example`, role: "admin", password: PASSWORD });
      return { id: user.id, cookie: `${SESSION_COOKIE}=${encodeURIComponent((await createSession(user.id)).token)}` };
    }),
  );
  round++;
  return made as [Admin, Admin];
}

async function deleteAs(actor: Admin, userId: number): Promise<number> {
  const response = await fetch(`${server.url}/api/trpc/admin.deleteUser`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie: actor.cookie },
    body: JSON.stringify({ json: { userId } }),
  });
  await response.arrayBuffer();
  return response.status;
}

/** Per round: the two answers' statuses and the admins left. */
async function rounds(): Promise<{ statuses: number[]; adminsLeft: number }[]> {
  const results = [];
  for (let n = 0; n < ROUNDS; n++) {
    const [a, b] = await twoAdmins();
    const statuses = await Promise.all([deleteAs(a, b.id), deleteAs(b, a.id)]);
    results.push({ statuses: statuses.sort(), adminsLeft: await db.user.count({ where: { role: "admin" } }) });
  }
  return results;
}

describe("the last admin", () => {
  it(`two admins deleting each other at once, ${ROUNDS} rounds: one deletion succeeds, one admin is always left`, async () => {
    const results = await rounds();
    console.log(`last admin, locked: admins left per round ${results.map((r) => r.adminsLeft).join(",")}`);
    for (const result of results) {
      expect(result.adminsLeft).toBe(1);
      // 200 for the deletion that went first; the other is refused (403: its admin is gone, or 409: the last admin).
      expect(result.statuses[0]).toBe(200);
      expect([403, 409]).toContain(result.statuses[1]);
    }
  });

  it("a lone admin cannot be deleted by anyone, and nobody deletes themselves", async () => {
    const [a, b] = await twoAdmins();
    expect(await deleteAs(a, a.id)).toBe(409);
    expect(await deleteAs(a, b.id)).toBe(200);
    const viewer = await createUser({ email: `viewer-${round}@test.example`, role: "viewer", password: PASSWORD });
    expect(await deleteAs(a, viewer.id)).toBe(200);
    expect(await db.user.count({ where: { role: "admin" } })).toBe(1);
  });

  it("control: with the admin rows read unlocked, some round ends with no admin at all", async () => {
    env.TIDEMARK_FAULT = "unlocked-last-admin";
    const results = await rounds();
    console.log(`last admin, unlocked control: admins left per round ${results.map((r) => r.adminsLeft).join(",")}`);
    expect(results.some((result) => result.adminsLeft === 0)).toBe(true);
  });
});
