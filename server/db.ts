/**
 * The process's one PostgreSQL pool and the one Prisma client built on it.
 *
 * Prisma serves the typed CRUD; the hot paths (ingest, claim, apply) run SQL
 * through the same pool with `sql`, so that ON CONFLICT, SKIP LOCKED and
 * array parameters are written as PostgreSQL means them. Both share the pool
 * size limit. The globalThis guard keeps one pool across Next.js hot reloads.
 * `transaction` runs the core's transactions on either engine, the raw pool
 * connection or Prisma's interactive transaction, behind one Tx; which one
 * each transaction uses was decided by `npm run bench -- tx` (docs/design.md,
 * "Transactions").
 *
 * A PostgreSQL that stalls costs a bounded wait, never a pile-up. Every
 * connection of the pool (Prisma's included: the adapter uses this pool)
 * has:
 * - a connect timeout (DATABASE_CONNECT_TIMEOUT_MS), which also bounds the
 *   wait for a free connection of a full pool;
 * - PostgreSQL's statement_timeout and idle_in_transaction_session_timeout
 *   (DATABASE_STATEMENT_TIMEOUT_MS, DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS),
 *   so the server ends what runs or idles too long and releases its locks;
 * - a client-side read timeout CLIENT_GRACE_MS beyond the statement timeout,
 *   for a server (or network) that does not answer at all, after which the
 *   connection is discarded;
 * - TCP keepalive (DATABASE_KEEPALIVE_MS), so a vanished peer is noticed.
 * At most DATABASE_POOL_MAX_WAITING requests wait for a connection; one more
 * is refused at once with DatabaseUnavailableError (a 503 at the edges).
 */
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { env, isBuildPhase, requireDatabaseUrl } from "./env.ts";
import { DatabaseUnavailableError } from "./errors.ts";
import { PrismaClient } from "./generated/prisma/client.ts";
import { log } from "./log.ts";
import { prismaTimeoutsBeyond, prismaTransaction, trackTransactionCheckouts } from "./db/prisma-transaction.ts";

// bigint columns (event ids, versions, counters) arrive as JS numbers when
// they fit, which every value Tidemark stores does (versions are validated as
// safe integers at the edge). Larger values fail loudly rather than round.
pg.types.setTypeParser(pg.types.builtins.INT8, (text) => {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`bigint ${text} exceeds Number.MAX_SAFE_INTEGER`);
  return value;
});

/** How long past the statement timeout the client waits for an answer before it gives the connection up. */
const CLIENT_GRACE_MS = 5_000;

/** The timeouts and keepalive every connection gets (the pool's and the LISTEN one). */
function connectionOptions() {
  return {
    connectionTimeoutMillis: env.DATABASE_CONNECT_TIMEOUT_MS,
    statement_timeout: env.DATABASE_STATEMENT_TIMEOUT_MS,
    idle_in_transaction_session_timeout: env.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    query_timeout: env.DATABASE_STATEMENT_TIMEOUT_MS + CLIENT_GRACE_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: env.DATABASE_KEEPALIVE_MS,
  };
}

/** True for pg's client-side read timeout: the connection is in an unknown state and must not be reused. */
export function isReadTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === "Query read timeout";
}

type ConnectCallback = (error: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void;

/**
 * Refuses a connection request at once when the pool is full, none is idle
 * and `maxWaiting` requests already wait: under a stalled database the
 * queue (and the memory and time of everyone in it) stays bounded. pg-pool's
 * own query() goes through connect(), so this covers it and Prisma's adapter.
 */
function boundWaiting(pool: pg.Pool, max: number, maxWaiting: number): void {
  const connect = pool.connect.bind(pool) as (callback?: ConnectCallback) => Promise<pg.PoolClient> | undefined;
  const bounded = (callback?: ConnectCallback) => {
    if (pool.idleCount === 0 && pool.totalCount >= max && pool.waitingCount >= maxWaiting) {
      const error = new DatabaseUnavailableError(
        `the database pool is saturated: ${pool.waitingCount} requests already wait for one of its ${max} connections`,
      );
      if (!callback) return Promise.reject(error);
      process.nextTick(() => callback(error, undefined, () => undefined));
      return undefined;
    }
    return connect(callback);
  };
  pool.connect = bounded as typeof pool.connect;
}

function createPool(): pg.Pool {
  const pool = new pg.Pool({
    // During `next build` modules are evaluated but nothing may connect.
    connectionString: isBuildPhase ? undefined : requireDatabaseUrl(),
    max: env.DATABASE_POOL_SIZE,
    idleTimeoutMillis: 30_000,
    application_name: "tidemark",
    ...connectionOptions(),
  });
  boundWaiting(pool, env.DATABASE_POOL_SIZE, env.DATABASE_POOL_MAX_WAITING);
  trackTransactionCheckouts(pool);
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

export interface TransactionOptions {
  engine?: TransactionEngine;
  /**
   * Commit without waiting for the WAL to reach the disk (synchronous_commit = off for this
   * transaction). Only for work that is redone, whole, if a server crash loses it: a lost commit
   * takes all of its writes with it, never some. Anything acknowledged to a sender commits durably.
   */
  asyncCommit?: boolean;
}

/**
 * Which client runs a transaction: "prisma" is Prisma's interactive
 * transaction (server/db/prisma-transaction.ts), "raw" the pool connection
 * driven here, with named statements. Both give `work` the same Tx; which
 * transactions use which, and the measured cost, is docs/design.md's
 * "Transactions" table.
 */
export type TransactionEngine = "raw" | "prisma";

/**
 * Runs `work` in one transaction on one pooled connection: COMMIT when it
 * resolves, ROLLBACK when it throws (and the error is rethrown). A connection
 * that cannot even roll back, or that hit the read timeout, is destroyed
 * instead of returned to the pool. The engine is "raw" unless told.
 */
export function transaction<T>(work: (tx: Tx) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  if (options.engine !== "prisma") return rawTransaction(work, options);
  return prismaTransaction(db, PRISMA_TIMEOUTS, async (tx) => {
    if (options.asyncCommit) await tx.query("SET LOCAL synchronous_commit = off");
    return work(tx);
  });
}

/** Prisma's own transaction limits, set past the pool's so the pool's bounds are the ones that apply (as on the raw path). */
const PRISMA_TIMEOUTS = prismaTimeoutsBeyond({
  connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
  statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS,
  readGraceMs: CLIENT_GRACE_MS,
});

async function rawTransaction<T>(work: (tx: Tx) => Promise<T>, options: TransactionOptions): Promise<T> {
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
    // One round trip either way: a simple query may hold several statements.
    await client.query(options.asyncCommit ? "BEGIN; SET LOCAL synchronous_commit = off" : "BEGIN");
    const tx: Tx = {
      isTransaction: true,
      query: <Row extends pg.QueryResultRow>(textOrConfig: string | pg.QueryConfig, values?: unknown[]) =>
        typeof textOrConfig === "string" ? client.query<Row>(textOrConfig, values) : client.query<Row>(textOrConfig),
    };
    const result = await work(tx);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    // After a read timeout the server's answer may still arrive: the connection is given up, not rolled back
    // (closing it ends the transaction on the server).
    if (isReadTimeout(error)) discard = true;
    else {
      await client.query("ROLLBACK").catch((rollbackError: unknown) => {
        discard = true;
        log.warn({ module: "db", err: (rollbackError as Error).message }, "rollback failed; discarding connection");
      });
    }
    throw error;
  } finally {
    client.off("error", onLost);
    client.release(discard);
  }
}

/** A dedicated connection outside the pool, for LISTEN; the caller ends it. */
export function createListenClient(): pg.Client {
  // LISTEN itself returns at once and notifications are not statements, so the same timeouts apply.
  return new pg.Client({ connectionString: requireDatabaseUrl(), application_name: "tidemark-listen", ...connectionOptions() });
}

export async function closeDatabase(): Promise<void> {
  await db.$disconnect();
  await pool.end();
  globalForDb.tidemarkPool = undefined;
  globalForDb.tidemarkPrisma = undefined;
}
