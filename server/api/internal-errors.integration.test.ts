/**
 * An internal error's text never reaches a client, over HTTP: the database
 * is made to fail in a way that is not an outage (a table renamed away in
 * this file's own database), and the tRPC route (from a procedure and from
 * the context) and an auth route handler answer "internal error" with a
 * request id, while the cause is logged under that same id.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { POST as signInRoute } from "../../app/api/auth/sign-in/route.ts";
import { GET as trpcGet } from "../../app/api/trpc/[trpc]/route.ts";
import { route, serve, type TestServer } from "../../test/http.ts";
import { SESSION_COOKIE, createSession } from "../auth/session.ts";
import { createUser } from "../auth/users.ts";
import { env } from "../env.ts";
import { log } from "../log.ts";

const PASSWORD = "correct horse battery staple";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let server: TestServer;
let direct: pg.Client;
let cookie = "";
let email = "";

beforeAll(async () => {
  server = await serve([route("GET", "/api/trpc/[trpc]", trpcGet as never), route("POST", "/api/auth/sign-in", signInRoute as never)]);
  direct = new pg.Client({ connectionString: env.DATABASE_URL });
  await direct.connect();
  email = `internal-${Date.now()}@test.example`;
  const admin = await createUser({ email, role: "admin", password: PASSWORD });
  cookie = `${SESSION_COOKIE}=${encodeURIComponent((await createSession(admin.id)).token)}`;
});

afterAll(async () => {
  await direct.end();
  await server.close();
});

/** Runs `body` with `table` renamed away (so every statement on it fails with "relation does not exist"). */
async function withoutTable<T>(table: string, body: () => Promise<T>): Promise<T> {
  await direct.query(`ALTER TABLE ${table} RENAME TO ${table}_away`);
  try {
    return await body();
  } finally {
    await direct.query(`ALTER TABLE ${table}_away RENAME TO ${table}`);
  }
}

/** The request ids logged with an error's cause while `body` ran, and the log lines' text. */
async function logged<T>(body: () => Promise<T>): Promise<{ result: T; ids: string[]; text: string }> {
  const spy = vi.spyOn(log, "error").mockImplementation(() => undefined);
  try {
    const result = await body();
    const calls = spy.mock.calls.map((call) => call[0] as unknown as { requestId?: string; err?: unknown });
    return { result, ids: calls.flatMap((call) => (call.requestId ? [call.requestId] : [])), text: JSON.stringify(calls.map((call) => String(call.err))) };
  } finally {
    spy.mockRestore();
  }
}

interface TrpcError {
  message: string;
  data: { code: string; httpStatus: number; requestId?: string; stack?: unknown };
}

async function trpcQuery(path: string, headers: Record<string, string>): Promise<{ status: number; raw: string; error: TrpcError }> {
  const response = await fetch(`${server.url}/api/trpc/${path}`, { headers });
  const raw = await response.text();
  return { status: response.status, raw, error: (JSON.parse(raw) as { error: { json: TrpcError } }).error.json };
}

describe("internal errors reach the viewer as a generic message and a request id", () => {
  it("from a procedure: tenants.list with the tenants table gone", async () => {
    const { result, ids, text } = await logged(() => withoutTable("tenants", () => trpcQuery("tenants.list", { cookie })));
    expect(result.status).toBe(500);
    expect(result.error.data.code).toBe("INTERNAL_SERVER_ERROR");
    expect(result.error.data.requestId).toMatch(UUID);
    expect(result.error.message).toBe(`internal error (request id ${result.error.data.requestId})`);
    expect(result.error.data.stack).toBeUndefined();
    expect(result.raw).not.toMatch(/tenants_away|tenants`|does not exist|prisma|at .+\.ts/i);
    // The cause is in the log, under the id the viewer was given.
    expect(ids).toContain(result.error.data.requestId);
    expect(text).toMatch(/tenants/);
  });

  it("from the context: the session lookup fails before any procedure runs", async () => {
    const { result, ids } = await logged(() => withoutTable("sessions", () => trpcQuery("tenants.list", { cookie })));
    expect(result.status).toBe(500);
    expect(result.error.data.requestId).toMatch(UUID);
    expect(result.error.message).toBe(`internal error (request id ${result.error.data.requestId})`);
    expect(result.raw).not.toMatch(/sessions|does not exist|prisma/i);
    expect(ids).toContain(result.error.data.requestId);
  });

  it("from a route handler: sign-in with the sessions table gone", async () => {
    const { result, ids } = await logged(() =>
      withoutTable("sessions", async () => {
        const response = await fetch(`${server.url}/api/auth/sign-in`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ email, password: PASSWORD }),
        });
        return { status: response.status, raw: await response.text() };
      }),
    );
    expect(result.status).toBe(500);
    const body = JSON.parse(result.raw) as { error: { code: string; message: string; requestId?: string } };
    expect(body.error).toEqual({ code: "internal", message: "internal error", requestId: expect.stringMatching(UUID) });
    expect(result.raw).not.toMatch(/sessions|does not exist|prisma/i);
    expect(ids).toContain(body.error.requestId);
  });
});
