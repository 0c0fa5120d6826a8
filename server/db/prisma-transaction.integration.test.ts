/**
 * The two transaction engines are interchangeable for the core: the same
 * rows, the same errors (SQLSTATE in `code`, so the 40P01/40001 retries and
 * the 503 mapping hold), the same commit and rollback, a fresh Tx (lock-order
 * guard) per transaction, the same bounds (the pool's, not Prisma's), and a
 * connection that timed out or was lost is destroyed, never reused or leaked.
 * Each guarantee has its control: plain Prisma (db.$transaction and
 * $queryRawUnsafe without this module) breaks it.
 */
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// One small pool with short bounds, so saturation and timeouts happen in seconds. Read before db.ts loads.
process.env.DATABASE_POOL_SIZE = "4";
process.env.DATABASE_POOL_MAX_WAITING = "1";
process.env.DATABASE_CONNECT_TIMEOUT_MS = "500";
process.env.DATABASE_STATEMENT_TIMEOUT_MS = "100";

const { db, pool, sql, transaction } = await import("../db.ts");
const { lockSteps, LockOrderViolation } = await import("../core/lock-order.ts");
const { isDatabaseUnavailable, toAppError } = await import("../errors.ts");
const { isTransient } = await import("../worker/transient.ts");
const { PrismaClient } = await import("../generated/prisma/client.ts");

const ENGINES = ["raw", "prisma"] as const;

// Every type the core's statements return (int8 as number, int8[] as pg's strings, bytea as Buffer, numeric as text), and more.
const TYPED_ROW = `
SELECT 9007199254740991::bigint AS big, ARRAY[1, 2]::bigint[] AS bigs, 7::int AS int, ARRAY[3, NULL]::int[] AS ints,
       12.5::numeric AS num, '\\x01ff'::bytea AS bytes, '{"a": [1, {"b": null}]}'::jsonb AS doc, '[1]'::json AS js,
       '2026-12-03T10:00:00.123Z'::timestamptz AS at, ARRAY['x', NULL]::text[] AS texts, 1.5::float8 AS f, true AS ok,
       NULL::text AS nothing, $1::text[] AS param, $2::bigint AS param_big`;

const TYPED_PARAMS = [["p", null], 42];

async function backendOf(tx: { query: (text: string) => Promise<pg.QueryResult> }): Promise<number> {
  const { rows } = await tx.query("SELECT pg_backend_pid() AS pid");
  return (rows[0] as { pid: number }).pid;
}

async function isConnected(pid: number): Promise<boolean> {
  const rows = await sql<{ n: number }>(pool, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1", [pid]);
  return rows[0]?.n === 1;
}

async function eventually(check: () => Promise<boolean>, ms = 3_000): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 25))) if (await check()) return true;
  return check();
}

beforeAll(async () => {
  await pool.query("CREATE TABLE tx_probe (id int PRIMARY KEY)");
});

afterAll(async () => {
  await pool.query("DROP TABLE IF EXISTS tx_probe");
});

describe("rows", () => {
  it("are the same on both engines, for every type the core reads", async () => {
    const raw = await transaction((tx) => sql(tx, TYPED_ROW, TYPED_PARAMS), { engine: "raw" });
    const prisma = await transaction((tx) => sql(tx, TYPED_ROW, TYPED_PARAMS), { engine: "prisma" });
    expect(prisma).toEqual(raw);
    expect(raw[0]).toMatchObject({ big: 9007199254740991, bigs: ["1", "2"], num: "12.5", param_big: 42 });
    expect(Buffer.isBuffer(raw[0]?.bytes)).toBe(true);
  });

  it("control: Prisma's own raw rows differ (BigInt, Decimal, Uint8Array)", async () => {
    const raw = await transaction((tx) => sql(tx, TYPED_ROW, TYPED_PARAMS));
    const prisma = await db.$transaction((tx) => tx.$queryRawUnsafe<Record<string, unknown>[]>(TYPED_ROW, ...TYPED_PARAMS));
    expect(prisma).not.toEqual(raw);
    expect(typeof prisma[0]?.big).toBe("bigint");
  });

  it("the one known difference: a numeric comes back without its trailing zeros (the core reads no numeric)", async () => {
    const texts = [];
    for (const engine of ENGINES) texts.push((await transaction((tx) => sql<{ n: string }>(tx, "SELECT 12.50::numeric AS n"), { engine }))[0]?.n);
    expect(texts).toEqual(["12.50", "12.5"]);
  });

  it("an int8 past 2^53 fails on both engines instead of rounding", async () => {
    for (const engine of ENGINES) {
      await expect(transaction((tx) => sql(tx, "SELECT 9007199254740993::bigint AS big"), { engine })).rejects.toThrow(RangeError);
    }
  });
});

describe("commit, rollback and the lock-order guard", () => {
  it.each(ENGINES)("%s: commits what resolves, rolls back what throws", async (engine) => {
    const base = engine === "raw" ? 100 : 200;
    await transaction((tx) => sql(tx, "INSERT INTO tx_probe VALUES ($1)", [base]), { engine });
    await expect(
      transaction(
        async (tx) => {
          await sql(tx, "INSERT INTO tx_probe VALUES ($1)", [base + 1]);
          throw new Error("the work failed");
        },
        { engine },
      ),
    ).rejects.toThrow("the work failed");
    const rows = await sql<{ id: number }>(pool, "SELECT id FROM tx_probe WHERE id BETWEEN $1 AND $2 ORDER BY id", [base, base + 99]);
    expect(rows.map((row) => row.id)).toEqual([base]);
  });

  it.each(ENGINES)("%s: the guard is per transaction: a step back throws inside one, and the next one starts empty", async (engine) => {
    await expect(
      transaction(
        async (tx) => {
          const steps = lockSteps(tx);
          steps.enter("items");
          steps.enter("sources");
        },
        { engine },
      ),
    ).rejects.toThrow(LockOrderViolation);
    await transaction(
      async (tx) => {
        lockSteps(tx).enter("items");
      },
      { engine },
    );
    // Control: the same object reused across transactions would carry "items" over, and this would throw.
    await expect(transaction(async (tx) => lockSteps(tx).enter("sources"), { engine })).resolves.toBeUndefined();
  });
});

describe("errors", () => {
  const raise = (code: string) => `DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '${code}', MESSAGE = 'raised ${code}', DETAIL = 'on purpose'; END $$`;

  it.each(ENGINES)(
    "%s: a PostgreSQL error keeps its SQLSTATE, message and detail; deadlocks and serialization failures stay retryable 503s",
    async (engine) => {
      for (const code of ["40P01", "40001", "23505", "57014"]) {
        const error = (await transaction((tx) => sql(tx, raise(code)), { engine }).catch((thrown: unknown) => thrown)) as pg.DatabaseError;
        expect(error).toBeInstanceOf(pg.DatabaseError);
        expect({ code: error.code, message: error.message }).toEqual({ code, message: `raised ${code}` });
        // Prisma's adapter keeps the detail only of the errors it does not classify itself (it drops it for 40001, 23505 and a few more).
        expect(error.detail).toBe(engine === "prisma" && ["40001", "23505"].includes(code) ? undefined : "on purpose");
        expect(isTransient(error)).toBe(code !== "23505");
      }
      const deadlock = await transaction((tx) => sql(tx, raise("40P01")), { engine }).catch((thrown: unknown) => thrown);
      expect(toAppError(deadlock, () => 1).status).toBe(503);
    },
  );

  it("control: Prisma's own error hides the SQLSTATE behind P2010, which nothing retries", async () => {
    const error = await db.$transaction((tx) => tx.$queryRawUnsafe(raise("40P01"))).catch((thrown: unknown) => thrown);
    expect((error as { code?: string }).code).toBe("P2010");
    expect(isTransient(error)).toBe(false);
    expect(toAppError(error, () => 1).status).toBe(500);
  });

  it.each(ENGINES)("%s: a saturated pool refuses at once with DatabaseUnavailableError (503)", async (engine) => {
    let releaseAll!: () => void;
    const held = new Promise<void>((resolve) => (releaseAll = resolve));
    const holders = Array.from({ length: 4 }, () => transaction(() => held));
    await eventually(async () => pool.idleCount === 0 && pool.totalCount === 4);
    const waiter = transaction(() => Promise.resolve("waited"));
    const started = performance.now();
    const refused = await transaction(() => Promise.resolve(), { engine }).catch((thrown: unknown) => thrown);
    expect(performance.now() - started).toBeLessThan(250);
    expect((refused as Error).name).toBe("DatabaseUnavailableError");
    expect(toAppError(refused, () => 1).status).toBe(503);
    // The one request allowed to wait is served once a connection is free.
    releaseAll();
    await Promise.all(holders);
    await expect(waiter).resolves.toBe("waited");
  });

  it.each(ENGINES)("%s: a wait for a connection ends at the pool's connect timeout, a 503", async (engine) => {
    let releaseAll!: () => void;
    const held = new Promise<void>((resolve) => (releaseAll = resolve));
    const holders = Array.from({ length: 4 }, () => transaction(() => held));
    await eventually(async () => pool.idleCount === 0 && pool.totalCount === 4);
    const started = performance.now();
    const timedOut = await transaction(() => Promise.resolve(), { engine }).catch((thrown: unknown) => thrown);
    const waited = performance.now() - started;
    releaseAll();
    await Promise.all(holders);
    expect(waited).toBeGreaterThan(400);
    expect(waited).toBeLessThan(2_000);
    expect(isDatabaseUnavailable(timedOut)).toBe(true);
  });
});

describe("bounds and discarded connections", () => {
  it.each(ENGINES)(
    "%s: a transaction longer than Prisma's default 5 s limit runs to its end (only statements are bounded)",
    { timeout: 30_000 },
    async (engine) => {
      const slept = await transaction(
        async (tx) => {
          await sql(tx, "SET LOCAL statement_timeout = 0");
          for (let i = 0; i < 6; i++) await sql(tx, "SELECT pg_sleep(0.9)::text");
          return "done";
        },
        { engine },
      );
      expect(slept).toBe("done");
    },
  );

  it("control: plain Prisma cuts the same transaction at its 5 s default", { timeout: 30_000 }, async () => {
    const cut = await db
      .$transaction(async (tx) => {
        await tx.$executeRawUnsafe("SET LOCAL statement_timeout = 0");
        for (let i = 0; i < 6; i++) await tx.$queryRawUnsafe("SELECT pg_sleep(0.9)::text");
      })
      .catch((thrown: unknown) => thrown);
    expect(cut).toBeInstanceOf(Error);
    expect((cut as Error).message).toMatch(/timeout|expired|closed/i);
  });

  it.each(ENGINES)("%s: a read timeout destroys the connection at once instead of waiting to roll back on it", { timeout: 30_000 }, async (engine) => {
    let pid = 0;
    const started = performance.now();
    const error = await transaction(
      async (tx) => {
        pid = await backendOf(tx);
        await sql(tx, "SET LOCAL statement_timeout = 0");
        await sql(tx, "SELECT pg_sleep(8)::text");
      },
      { engine },
    ).catch((thrown: unknown) => thrown);
    // query_timeout is the statement timeout (100 ms) plus a 5 s grace.
    expect((error as Error).message).toBe("Query read timeout");
    expect(performance.now() - started).toBeLessThan(7_000);
    expect(await eventually(async () => !(await isConnected(pid)))).toBe(true);
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each(ENGINES)("%s: connections lost mid-transaction are not leaked: twice the pool's size of them, then the pool still serves", async (engine) => {
    for (let i = 0; i < 8; i++) {
      const error = await transaction(
        async (tx) => {
          const pid = await backendOf(tx);
          await sql(pool, "SELECT pg_terminate_backend($1)", [pid]);
          await sql(tx, "SELECT 1");
        },
        { engine },
      ).catch((thrown: unknown) => thrown);
      expect(isDatabaseUnavailable(error)).toBe(true);
    }
    await expect(transaction((tx) => sql(tx, "SELECT 1 AS one"), { engine })).resolves.toEqual([{ one: 1 }]);
  });

  it("control: plain Prisma leaks a connection whose ROLLBACK failed, until its pool has none", async () => {
    const small = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2, connectionTimeoutMillis: 500 });
    small.on("error", () => undefined);
    const plain = new PrismaClient({ adapter: new PrismaPg(small) });
    try {
      for (let i = 0; i < 2; i++) {
        await plain
          .$transaction(async (tx) => {
            const [row] = await tx.$queryRawUnsafe<{ pid: number }[]>("SELECT pg_backend_pid() AS pid");
            await sql(pool, "SELECT pg_terminate_backend($1)", [row?.pid]);
            await tx.$queryRawUnsafe("SELECT 1");
          })
          .catch(() => undefined);
      }
      const starved = await plain.$transaction((tx) => tx.$queryRawUnsafe("SELECT 1")).catch((thrown: unknown) => thrown);
      expect((starved as Error).message).toMatch(/timeout exceeded when trying to connect/);
    } finally {
      await plain.$disconnect();
      // The leaked checkouts are never released, so ending the pool cannot wait for them.
      void small.end().catch(() => undefined);
    }
  });
});
