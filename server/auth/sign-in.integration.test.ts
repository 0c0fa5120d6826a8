/**
 * Sign-in and sign-out through their route handlers, with the real database
 * and Redis: the cookie's attributes, one generic message for any wrong
 * credentials, rate limits per (account, address) and per address, and
 * revocation. Called without the production server's client-address stamp,
 * so the address is X-Forwarded-For's last entry (the `next dev` fallback);
 * sign-in-limits.integration.test.ts tests the brakes over HTTP.
 */
import { describe, expect, it } from "vitest";
import { POST as signInRoute } from "../../app/api/auth/sign-in/route.ts";
import { POST as signOutRoute } from "../../app/api/auth/sign-out/route.ts";
import { SESSION_COOKIE, userForSession } from "./session.ts";
import { createUser } from "./users.ts";

let counter = 0;
const PASSWORD = "correct horse battery staple";

async function newUser() {
  const email = `user-${++counter}-${Date.now()}@test.example`;
  await createUser({ email, role: "viewer", password: PASSWORD });
  return email;
}

function signIn(body: unknown, headers: Record<string, string> = {}) {
  return signInRoute(
    new Request("http://app.test/api/auth/sign-in", {
      method: "POST",
      headers: { "content-type": "application/json", host: "app.test", "x-forwarded-for": `10.0.${counter}.1`, ...headers },
      body: JSON.stringify(body),
    }),
  );
}

function tokenFrom(response: Response): string {
  const cookie = response.headers.get("set-cookie") ?? "";
  return decodeURIComponent(cookie.split(";")[0]?.split("=")[1] ?? "");
}

describe("sign-in", () => {
  it("sets an httpOnly, SameSite session cookie that identifies the user", async () => {
    const email = await newUser();
    const response = await signIn({ email, password: PASSWORD });
    expect(response.status).toBe(200);
    const cookie = response.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=`));
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Lax");
    expect(cookie).toContain("Path=/");
    expect((await userForSession(tokenFrom(response)))?.email).toBe(email);
  });

  it("marks the cookie Secure behind HTTPS", async () => {
    const email = await newUser();
    const response = await signIn({ email, password: PASSWORD }, { "x-forwarded-proto": "https" });
    expect(response.headers.get("set-cookie")).toContain("Secure");
  });

  it("answers a wrong password and an unknown email with the same generic message", async () => {
    const email = await newUser();
    const wrongPassword = await signIn({ email, password: "not the password" });
    const unknownEmail = await signIn({ email: `nobody-${counter}@test.example`, password: PASSWORD });
    expect(wrongPassword.status).toBe(401);
    expect(unknownEmail.status).toBe(401);
    expect(await wrongPassword.json()).toEqual(await unknownEmail.json());
    expect(wrongPassword.headers.get("set-cookie")).toBeNull();
  });

  it("accepts the email in any case", async () => {
    const email = await newUser();
    expect((await signIn({ email: email.toUpperCase(), password: PASSWORD })).status).toBe(200);
  });

  it("refuses guessing one account from one address, with Retry-After; the owner elsewhere still signs in", async () => {
    const email = await newUser();
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await signIn({ email, password: "guess" }, { "x-forwarded-for": "192.0.2.1" })).status);
    expect(statuses).toEqual([...Array(10).fill(401), 429]);
    const limited = await signIn({ email, password: PASSWORD }, { "x-forwarded-for": "192.0.2.1" });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await signIn({ email, password: PASSWORD }, { "x-forwarded-for": "198.51.100.7" })).status).toBe(200);
  });

  it("limits attempts per address, across accounts", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++)
      statuses.push((await signIn({ email: `spray-${i}@test.example`, password: "guess" }, { "x-forwarded-for": "203.0.113.9" })).status);
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(statuses.slice(20)).toEqual([429, 429]);
  });

  it("refuses a cross-site sign-in", async () => {
    const email = await newUser();
    const response = await signIn({ email, password: PASSWORD }, { origin: "https://evil.example" });
    expect(response.status).toBe(403);
  });
});

describe("sign-out", () => {
  it("deletes the session, so the old cookie no longer signs anyone in", async () => {
    const email = await newUser();
    const token = tokenFrom(await signIn({ email, password: PASSWORD }));
    expect(await userForSession(token)).not.toBeNull();
    const response = await signOutRoute(
      new Request("http://app.test/api/auth/sign-out", {
        method: "POST",
        headers: { host: "app.test", cookie: `${SESSION_COOKIE}=${encodeURIComponent(token)}` },
      }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("set-cookie")).toContain("Expires=Thu, 01 Jan 1970");
    expect(await userForSession(token)).toBeNull();
  });
});
