/**
 * Expired sessions are purged, live ones kept: a sign-in over the real route
 * removes the expired sessions of every user (a batch of at most
 * SIGN_IN_PURGE_BATCH), and a retention round removes a larger pile in its
 * batches. Either way every live session survives and still signs its user in.
 * Control (in the report): without the purge call the same assertions fail.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POST as signInRoute } from "../../app/api/auth/sign-in/route.ts";
import { route, serve, type TestServer } from "../../test/http.ts";
import { db } from "../db.ts";
import { runRetention } from "../retention/retention.ts";
import { SIGN_IN_PURGE_BATCH, newSessionToken, userForSession } from "./session.ts";
import { createUser } from "./users.ts";

const PASSWORD = "correct horse battery staple";
const DAY = 86_400_000;

let server: TestServer;
let userIds: number[] = [];

beforeAll(async () => {
  server = await serve([route("POST", "/api/auth/sign-in", signInRoute as never)]);
  userIds = await Promise.all(
    ["purge-a@test.example", "purge-b@test.example"].map(async (email) => (await createUser({ email, role: "viewer", password: PASSWORD })).id),
  );
});

afterAll(async () => {
  await server.close();
});

/** `count` sessions per user expiring at `expiresAt`; returns their tokens. */
async function sessions(count: number, expiresAt: Date): Promise<string[]> {
  const made = userIds.flatMap((userId) => Array.from({ length: count }, () => ({ ...newSessionToken(), userId })));
  await db.session.createMany({ data: made.map(({ id, userId }) => ({ id, userId, expiresAt })) });
  return made.map(({ token }) => token);
}

const expiredCount = () => db.session.count({ where: { expiresAt: { lte: new Date() } } });

describe("expired sessions", () => {
  it("a sign-in over HTTP purges every user's expired sessions; live ones remain and still work", async () => {
    await sessions(20, new Date(Date.now() - DAY));
    await sessions(3, new Date(Date.now() - 1));
    const live = await sessions(5, new Date(Date.now() + DAY));
    expect(await expiredCount()).toBe(46);

    const response = await fetch(`${server.url}/api/auth/sign-in`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "purge-a@test.example", password: PASSWORD }),
    });
    expect(response.status).toBe(200);

    expect(await expiredCount()).toBe(0);
    expect(await db.session.count()).toBe(live.length + 1);
    for (const token of live) expect(await userForSession(token)).not.toBeNull();
  });

  it(`a retention round purges a pile larger than one sign-in's batch (${SIGN_IN_PURGE_BATCH}) in its batches`, async () => {
    await sessions(1_250, new Date(Date.now() - DAY));
    const before = await db.session.count();
    const round = await runRetention({ batchSize: 1_000, maxBatches: 100, tombstoneGraceMs: 60_000 });
    expect(round?.sessionsRemoved).toBe(2_500);
    expect(await expiredCount()).toBe(0);
    expect(await db.session.count()).toBe(before - 2_500);
  });
});
