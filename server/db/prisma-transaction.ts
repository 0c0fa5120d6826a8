/**
 * The core's transactions on Prisma's interactive transactions
 * (`db.$transaction(async (tx) => …)`), behind the same Tx contract as the
 * raw helper in server/db.ts, so a caller changes engine by one word.
 *
 * What a core function sees is the same on both engines:
 * - rows as pg gives them: Prisma's raw queries return int8 as BigInt (here a
 *   number, or a RangeError past 2^53 exactly like the pool's parser), int8[]
 *   as BigInt[] (here strings, pg's default), numeric as Decimal (here its
 *   text), bytea as Uint8Array (here a Buffer); json, dates, timestamps,
 *   booleans, floats, int4 and text arrays already match;
 * - errors with the SQLSTATE in `code`: Prisma wraps a PostgreSQL error in
 *   P2010 (or P2034 for 40001); it is unwrapped into a pg.DatabaseError with
 *   the original code, message, detail and hint, so the 40P01/40001 retries
 *   and the 503 mapping (server/errors.ts) work unchanged;
 * - a fresh Tx object per transaction, so the lock-order guard
 *   (server/core/lock-order.ts) starts empty each time.
 *
 * What Prisma does not do and is added here:
 * - The adapter's PgTransaction releases its connection only after COMMIT or
 *   ROLLBACK succeeded, and never destroys it: a connection whose ROLLBACK
 *   failed would be lost to the pool, and one that hit pg's read timeout
 *   would be reused. Each transaction's pool checkout is therefore tracked
 *   (AsyncLocalStorage around the pool's connect): on a read timeout or a
 *   connection error the connection is destroyed at once (closing it ends
 *   the server's transaction, as on the raw path), and a checkout Prisma
 *   did not give back is destroyed when the transaction settles.
 * - Timeouts: Prisma's maxWait (2 s by default) would give up on a start that
 *   the pool still allows, and its transaction timeout (5 s) would cut a long
 *   apply that every statement of which is within statement_timeout. Both
 *   are set beyond the pool's own bounds (connect timeout, statement timeout
 *   plus the read grace), so the bounds are the raw path's: the pool's
 *   connect timeout and waiting limit, PostgreSQL's statement and
 *   idle-in-transaction timeouts, pg's read timeout.
 *
 * What cannot be had through Prisma: named prepared statements (the adapter
 * sends every statement unnamed, so PostgreSQL parses and plans it each
 * time), and an exact rowCount of a statement without RETURNING (rowCount
 * here is the number of rows returned). See docs/design.md, "Transactions".
 */
import { AsyncLocalStorage } from "node:async_hooks";
import pg from "pg";
import type { Queryable, Tx } from "../db.ts";
import { Prisma, type PrismaClient } from "../generated/prisma/client.ts";
import { log } from "../log.ts";

/** The one pool checkout of a Prisma transaction, and what has happened to it. */
interface Checkout {
  client: pg.PoolClient | undefined;
  released: boolean;
  /** Destroys the connection instead of returning it; safe to call at any time, once effective. */
  discard(reason: string): void;
}

const checkouts = new AsyncLocalStorage<Checkout>();

type Connect = (callback?: (...args: never[]) => void) => Promise<pg.PoolClient> | undefined;

/**
 * Lets prismaTransaction see the connection Prisma's adapter checks out for
 * it: the first promise-style connect inside a transaction's async context
 * is its BEGIN's (the adapter's startTransaction). Other connects pass through.
 */
export function trackTransactionCheckouts(pool: pg.Pool): void {
  const connect = pool.connect.bind(pool) as Connect;
  const tracked: Connect = (callback) => {
    const checkout = checkouts.getStore();
    if (callback || !checkout || checkout.client) return connect(callback);
    return (connect() as Promise<pg.PoolClient>).then((client) => adopt(checkout, client));
  };
  pool.connect = tracked as typeof pool.connect;
}

function adopt(checkout: Checkout, client: pg.PoolClient): pg.PoolClient {
  checkout.client = client;
  const release = client.release.bind(client);
  let destroy = false;
  const onLost = (error: Error) => {
    destroy = true;
    log.warn({ module: "db", err: error.message }, "database connection lost during a transaction");
  };
  client.on("error", onLost);
  // pg-pool installs a fresh release per checkout, so this wrapper lasts exactly this checkout.
  client.release = (error?: Error | boolean) => {
    if (checkout.released) return;
    checkout.released = true;
    client.off("error", onLost);
    release(error ?? destroy);
  };
  checkout.discard = (reason) => {
    if (checkout.released) return;
    log.warn({ module: "db", reason }, "discarding a transaction's connection");
    destroy = true;
    client.release(true);
  };
  return client;
}

type PrismaTransactionClient = Prisma.TransactionClient;

export interface PrismaTransactionTimeouts {
  /** How long Prisma waits for the transaction to start (connection and BEGIN). */
  maxWaitMs: number;
  /** How long the transaction may run in all. */
  timeoutMs: number;
}

/** The largest delay setTimeout honours (longer ones fire at once). */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/** Prisma's own limits set past the pool's: a wait for a connection is bounded by the pool, a transaction by its statements. */
export function prismaTimeoutsBeyond(pool: { connectTimeoutMs: number; statementTimeoutMs: number; readGraceMs: number }): PrismaTransactionTimeouts {
  return { maxWaitMs: pool.connectTimeoutMs + pool.statementTimeoutMs + pool.readGraceMs, timeoutMs: LONGEST_TIMER_MS };
}

/** Runs `work` in one Prisma interactive transaction; COMMIT when it resolves, ROLLBACK when it throws (rethrown as pg would). */
export async function prismaTransaction<T>(client: PrismaClient, timeouts: PrismaTransactionTimeouts, work: (tx: Tx) => Promise<T>): Promise<T> {
  const checkout: Checkout = { client: undefined, released: false, discard: () => undefined };
  try {
    return await checkouts.run(checkout, () =>
      client.$transaction(
        (prismaTx) => {
          const queryable = prismaQueryable(prismaTx, (error) => {
            if (isConnectionGone(error)) checkout.discard((error as Error).message);
          });
          return work({ isTransaction: true, query: queryable.query });
        },
        { maxWait: timeouts.maxWaitMs, timeout: timeouts.timeoutMs },
      ),
    );
  } catch (error) {
    throw toPgError(error);
  } finally {
    // Prisma releases only after a successful COMMIT or ROLLBACK: anything else is destroyed here.
    if (checkout.client && !checkout.released) checkout.discard("the transaction ended without giving its connection back");
  }
}

/** pg's read timeout, or a connection that is already closed: the checkout cannot be reused. */
function isConnectionGone(error: unknown): boolean {
  return (
    error instanceof Error && /^(Query read timeout|Connection terminated|Client has encountered a connection error|Client was closed)/.test(error.message)
  );
}

/**
 * The Queryable contract over a Prisma client or transaction client: text and
 * values go to `$queryRawUnsafe` (a named statement runs as its text), rows
 * come back as pg returns them, errors as pg throws them.
 */
export function prismaQueryable(client: PrismaTransactionClient | PrismaClient, onError: (error: unknown) => void = () => undefined): Queryable {
  return {
    query: async <Row extends pg.QueryResultRow>(textOrConfig: string | pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult<Row>> => {
      const text = typeof textOrConfig === "string" ? textOrConfig : textOrConfig.text;
      const args = (typeof textOrConfig === "string" ? values : textOrConfig.values) ?? [];
      let rows: Record<string, unknown>[];
      try {
        rows = await client.$queryRawUnsafe<Record<string, unknown>[]>(text, ...args);
      } catch (error) {
        const pgError = toPgError(error);
        onError(pgError);
        throw pgError;
      }
      return { rows: rows.map(toPgRow) as Row[], rowCount: rows.length, command: "", oid: 0, fields: [] };
    },
  };
}

/** A row of Prisma's raw result with each value as pg's parsers (and the pool's int8 parser) give it. */
export function toPgRow(row: Record<string, unknown>): Record<string, unknown> {
  const converted: Record<string, unknown> = {};
  for (const key in row) converted[key] = toPgValue(row[key]);
  return converted;
}

function toPgValue(value: unknown): unknown {
  if (value === null || typeof value !== "object") return typeof value === "bigint" ? safeNumber(value) : value;
  if (Array.isArray(value))
    return value.some((element) => typeof element === "bigint") ? value.map((element) => (element === null ? null : String(element))) : value;
  if (value instanceof Uint8Array && !Buffer.isBuffer(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Prisma.Decimal.isDecimal(value)) return value.toFixed();
  return value;
}

function safeNumber(value: bigint): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number)) throw new RangeError(`bigint ${value} exceeds Number.MAX_SAFE_INTEGER`);
  return number;
}

interface DriverAdapterCause {
  originalCode?: string;
  originalMessage?: string;
  severity?: string;
  detail?: string;
  column?: string;
  hint?: string;
}

/**
 * The PostgreSQL error inside a Prisma error (P2010 for a raw query, P2034 for
 * 40001, others on BEGIN/COMMIT) as a pg.DatabaseError with its SQLSTATE; any
 * other error (pg's own read timeout, the pool's refusal, a lost connection)
 * is passed on as it is: Prisma does not wrap those.
 */
export function toPgError(error: unknown): unknown {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return error;
  const adapterError = (error.meta as { driverAdapterError?: { cause?: DriverAdapterCause } } | undefined)?.driverAdapterError;
  const cause = adapterError?.cause;
  if (!cause?.originalCode) return error;
  const pgError = new pg.DatabaseError(cause.originalMessage ?? error.message, 0, "error");
  pgError.code = cause.originalCode;
  pgError.severity = cause.severity ?? "ERROR";
  pgError.detail = cause.detail;
  pgError.column = cause.column;
  pgError.hint = cause.hint;
  pgError.cause = error;
  return pgError;
}
