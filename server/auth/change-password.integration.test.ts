/**
 * Changing one's password through the route handler, with the real database
 * and Redis: the current password is required and guarded like sign-in, a
 * bad new password is explained, and a change ends every other session while
 * the browser that made it stays signed in.
 */
import { describe, expect, it } from "vitest";
import { POST as passwordRoute } from "../../app/api/auth/password/route.ts";
import { POST as signInRoute } from "../../app/api/auth/sign-in/route.ts";
import { db } from "../db.ts";
import { SESSION_COOKIE, createSession, userForSession } from "./session.ts";
import { createUser } from "./users.ts";

let counter = 0;
const PASSWORD = "correct horse battery staple";
const NEW_PASSWORD = "a different, longer passphrase";

async function newUser() {
  const email = `changer-${++counter}-${Date.now()}@test.example`;
  const { id } = await createUser({ email, role: "viewer", password: PASSWORD });
  const { token } = await createSession(id);
  return { id, email, token };
}

function changePassword(token: string | undefined, body: unknown, headers: Record<string, string> = {}) {
  return passwordRoute(
    new Request("http://app.test/api/auth/password", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        host: "app.test",
        ...(token ? { cookie: `${SESSION_COOKIE}=${encodeURIComponent(token)}` } : {}),
        ...headers,
      },
      body: JSON.stringify(body),
    }),
  );
}

function signIn(email: string, password: string) {
  return signInRoute(
    new Request("http://app.test/api/auth/sign-in", {
      method: "POST",
      headers: { "content-type": "application/json", host: "app.test", "x-forwarded-for": `10.9.${counter}.1` },
      body: JSON.stringify({ email, password }),
    }),
  );
}

function tokenFrom(response: Response): string {
  const cookie = response.headers.get("set-cookie") ?? "";
  return decodeURIComponent(cookie.split(";")[0]?.split("=")[1] ?? "");
}

async function storedHash(userId: number): Promise<string> {
  return (await db.user.findUniqueOrThrow({ where: { id: userId }, select: { passwordHash: true } })).passwordHash;
}

describe("password change", () => {
  it("with the right current password: the new one signs in, the old one does not, and only the new session survives", async () => {
    const user = await newUser();
    const { token: otherBrowser } = await createSession(user.id);

    const response = await changePassword(user.token, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
    expect(response.status).toBe(200);
    const cookie = response.headers.get("set-cookie") ?? "";
    expect(cookie).toContain("HttpOnly");
    const replacement = tokenFrom(response);
    expect((await userForSession(replacement))?.email).toBe(user.email);
    expect(await userForSession(user.token)).toBeNull();
    expect(await userForSession(otherBrowser)).toBeNull();
    expect(await db.session.count({ where: { userId: user.id } })).toBe(1);

    expect((await signIn(user.email, NEW_PASSWORD)).status).toBe(200);
    expect((await signIn(user.email, PASSWORD)).status).toBe(401);
  });

  it("refuses a wrong current password with 422, naming the field, and changes nothing", async () => {
    const user = await newUser();
    const before = await storedHash(user.id);
    const response = await changePassword(user.token, { currentPassword: "not it at all", newPassword: NEW_PASSWORD });
    expect(response.status).toBe(422);
    const body = (await response.json()) as { error: { code: string; details: { path: string }[] } };
    expect(body.error.code).toBe("validation_failed");
    expect(body.error.details.map((detail) => detail.path)).toEqual(["currentPassword"]);
    expect(await storedHash(user.id)).toBe(before);
    expect(await userForSession(user.token)).not.toBeNull();
  });

  it("explains a new password that is too short or the same as the current one", async () => {
    const user = await newUser();
    const short = await changePassword(user.token, { currentPassword: PASSWORD, newPassword: "short" });
    expect(short.status).toBe(422);
    expect(JSON.stringify(await short.json())).toContain("at least 12 characters");
    const same = await changePassword(user.token, { currentPassword: PASSWORD, newPassword: PASSWORD });
    expect(same.status).toBe(422);
    expect(JSON.stringify(await same.json())).toContain("must differ from the current password");
  });

  it("needs a session: 401 without one, and with a revoked one", async () => {
    expect((await changePassword(undefined, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD })).status).toBe(401);
    const user = await newUser();
    await db.session.deleteMany({ where: { userId: user.id } });
    expect((await changePassword(user.token, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD })).status).toBe(401);
  });

  it("refuses a cross-site request even with the cookie", async () => {
    const user = await newUser();
    const before = await storedHash(user.id);
    const response = await changePassword(user.token, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, { origin: "https://evil.example" });
    expect(response.status).toBe(403);
    expect(await storedHash(user.id)).toBe(before);
  });

  it("counts wrong guesses against the sign-in brake of the account at this address: guessing stops with 429", async () => {
    const user = await newUser();
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      statuses.push((await changePassword(user.token, { currentPassword: `guess ${i}`, newPassword: NEW_PASSWORD })).status);
    }
    // The per-(account, address) burst is 10: then 429, with the right password refused as well.
    expect(statuses.slice(0, 10).every((status) => status === 422)).toBe(true);
    expect(statuses.slice(10)).toEqual([429, 429]);
    expect((await changePassword(user.token, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD })).status).toBe(429);
  });
});
