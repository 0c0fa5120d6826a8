/**
 * One error vocabulary for HTTP and tRPC.
 *
 * Code raises AppError with a code from ErrorCodes; the edges map it with
 * errorResponse (server/lib/http.ts, for route handlers) or toTRPCError
 * (server/api/trpc.ts). Anything that is not an AppError becomes a 503 when
 * the database is unreachable and a generic 500 otherwise: its message and
 * stack go to the log, never to the client, which gets "internal error" and
 * a request id that finds the log line (internalError).
 */
import { randomUUID } from "node:crypto";
import { log } from "./log.ts";

export const ErrorCodes = {
  bad_request: 400,
  invalid_json: 400,
  missing_header: 400,
  unauthorized: 401,
  invalid_signature: 401,
  timestamp_out_of_range: 401,
  forbidden: 403,
  not_found: 404,
  tenant_not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  invalid_event: 422,
  validation_failed: 422,
  rate_limited: 429,
  quota_exceeded: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export interface ErrorDetail {
  path: string;
  message: string;
}

export class AppError extends Error {
  override name = "AppError";
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: { details?: ErrorDetail[]; retryAfterSeconds?: number; cause?: unknown; requestId?: string } = {},
  ) {
    super(message, { cause: extra.cause });
    this.status = ErrorCodes[code];
  }
}

/**
 * PostgreSQL did not answer in time, or too many requests already wait for a
 * pool connection: answered like an unreachable database (503, Retry-After).
 */
export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";
  readonly code = "tidemark_database_unavailable";
}

const UNREACHABLE_NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "ETIMEDOUT", "EHOSTUNREACH", "EAI_AGAIN", "EPIPE"]);
// SQLSTATEs that mean "the server is not there for you right now", not "your query is wrong".
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300"]);
// Prisma's driver adapter turns the pg errors above into these: can't reach the server, timed out,
// server closed the connection, no pool connection in time, too many connections.
const PRISMA_UNAVAILABLE_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024", "P2037"]);

/** True when `error` says PostgreSQL cannot be reached or is not accepting work. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (code === "tidemark_database_unavailable") return true;
    if (UNREACHABLE_NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith("08")) return true;
    if (PRISMA_UNAVAILABLE_CODES.has(code)) return true;
  }
  if (error instanceof AggregateError) return error.errors.some(isDatabaseUnavailable);
  // "Query read timeout": pg's own client-side timeout (query_timeout), a server that stopped answering.
  return /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED|Client has encountered a connection error|Query read timeout|database pool is saturated/i.test(
    error.message,
  );
}

export interface ErrorBody {
  error: { code: string; message: string; details?: ErrorDetail[]; requestId?: string };
}

/** The answer to an unexpected error: logged in full under a new request id; the client sees only the id. */
export function internalError(error: unknown, module: string): AppError {
  const requestId = randomUUID();
  log.error({ module, err: error, requestId }, "unexpected error");
  return new AppError("internal", "internal error", { cause: error, requestId });
}

// A write that lost a deadlock or a serialization check committed nothing and can simply be sent again.
const RETRYABLE_WRITE_SQLSTATES = new Set(["40P01", "40001"]);

/** Normalises any thrown value into an AppError safe to show a client. */
export function toAppError(error: unknown, retryAfterSeconds: () => number): AppError {
  // An "internal" AppError's own message is for the log too; the client gets the generic one and an id.
  if (error instanceof AppError) return error.code === "internal" && error.extra.requestId === undefined ? internalError(error, "errors") : error;
  const sqlstate = (error as { code?: unknown } | null)?.code;
  if (typeof sqlstate === "string" && RETRYABLE_WRITE_SQLSTATES.has(sqlstate)) {
    log.error({ module: "errors", err: error }, "a write failed with a retryable conflict (a lock-order bug if 40P01)");
    return new AppError("unavailable", "the write could not complete; nothing was stored, retry later", {
      retryAfterSeconds: retryAfterSeconds(),
      cause: error,
    });
  }
  if (isDatabaseUnavailable(error)) {
    log.warn({ module: "errors", err: (error as Error).message }, "database unavailable");
    return new AppError("unavailable", "the database is unavailable; nothing was stored, retry later", {
      retryAfterSeconds: retryAfterSeconds(),
      cause: error,
    });
  }
  return internalError(error, "errors");
}

export function errorBody(error: AppError): ErrorBody {
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(error.extra.details ? { details: error.extra.details } : {}),
      ...(error.extra.requestId ? { requestId: error.extra.requestId } : {}),
    },
  };
}
