/**
 * The process's one PostgreSQL pool and the one Prisma client built on it.
 *
 * Prisma serves the typed CRUD; the hot paths (ingest, claim, apply) run SQL
 * through the same pool with `sql`, so that ON CONFLICT, SKIP LOCKED and
 * array parameters are written as PostgreSQL means them. Both share the pool
 * size limit. The globalThis guard keeps one pool across Next.js hot reloads.
 */
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { env, isBuildPhase, requireDatabaseUrl } from "./env.ts";
import { PrismaClient } from "./generated/prisma/client.ts";
import { log } from "./log.ts";

// bigint columns (event ids, versions, counters) arrive as JS numbers when
// they fit, which every value Tidemark stores does (versions are validated as
// safe integers at the edge). Larger values fail loudly rather than round.
pg.types.setTypeParser(pg.types.builtins.INT8, (text) => {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`bigint ${text} exceeds Number.MAX_SAFE_INTEGER`);
  return value;
});

function createPool(): pg.Pool {
  const pool = new pg.Pool({
    // During `next build` modules are evaluated but nothing may connect.
    connectionString: isBuildPhase ? undefined : requireDatabaseUrl(),
    max: env.DATABASE_POOL_SIZE,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: "tidemark",
  });
  // An idle client losing its connection emits here; unhandled, it would kill the process.
  pool.on("error", (error) => log.warn({ module: "db", err: error.message }, "idle database connection lost"));
  return pool;
}

const globalForDb = globalThis as unknown as { tidemarkPool?: pg.Pool; tidemarkPrisma?: PrismaClient };

export const pool: pg.Pool = (globalForDb.tidemarkPool ??= createPool());
export const db: PrismaClient = (globalForDb.tidemarkPrisma ??= new PrismaClient({ adapter: new PrismaPg(pool) }));

/** A connection or a transaction: whatever `sql` runs on. */
export interface Queryable {
  query<Row extends pg.QueryResultRow>(textOrConfig: string | pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult<Row>>;
}

/**
 * A named statement: PostgreSQL parses and plans it once per connection and
 * reuses the plan, which roughly halves the database's CPU for the small,
 * frequent statements of the hot paths. Names must be unique per text.
 */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

export function statement(name: string, text: string): Statement {
  return Object.freeze({ name: `tidemark_${name}`, text });
}

/** Runs one parameterised statement (text, or a named Statement) and returns its rows. */
export async function sql<Row extends pg.QueryResultRow>(on: Queryable, query: string | Statement, values: readonly unknown[] = []): Promise<Row[]> {
  const result =
    typeof query === "string"
      ? await on.query<Row>(query, values as unknown[])
      : await on.query<Row>({ name: query.name, text: query.text, values: values as unknown[] });
  return result.rows;
}

/**
 * An open transaction. Core functions take one and never commit it. It is a
 * fresh object per transaction (not the pooled connection itself), so state
 * kept per transaction, such as the lock-order guard, starts empty each time.
 */
export interface Tx extends Queryable {
  readonly isTransaction: true;
}

/**
 * Runs `work` in one transaction on one pooled connection: COMMIT when it
 * resolves, ROLLBACK when it throws (and the error is rethrown). A connection
 * that cannot even roll back is destroyed instead of returned to the pool.
 */
export async function transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let discard = false;
  // pg-pool takes its error listener off a client while it is checked out: without one of our own, a
  // connection lost mid-transaction (the database restarted, a network cut) is an unhandled 'error'
  // event that ends the process. The statement in flight fails by itself; the client is discarded.
  const onLost = (error: Error) => {
    discard = true;
    log.warn({ module: "db", err: error.message }, "database connection lost during a transaction");
  };
  client.on("error", onLost);
  try {
    await client.query("BEGIN");
    const tx: Tx = {
      isTransaction: true,
      query: <Row extends pg.QueryResultRow>(textOrConfig: string | pg.QueryConfig, values?: unknown[]) =>
        typeof textOrConfig === "string" ? client.query<Row>(textOrConfig, values) : client.query<Row>(textOrConfig),
    };
    const result = await work(tx);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch((rollbackError: unknown) => {
      discard = true;
      log.warn({ module: "db", err: (rollbackError as Error).message }, "rollback failed; discarding connection");
    });
    throw error;
  } finally {
    client.off("error", onLost);
    client.release(discard);
  }
}

/** A dedicated connection outside the pool, for LISTEN; the caller ends it. */
export function createListenClient(): pg.Client {
  return new pg.Client({ connectionString: requireDatabaseUrl(), application_name: "tidemark-listen" });
}

export async function closeDatabase(): Promise<void> {
  await db.$disconnect();
  await pool.end();
  globalForDb.tidemarkPool = undefined;
  globalForDb.tidemarkPrisma = undefined;
}
