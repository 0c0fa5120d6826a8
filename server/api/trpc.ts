/**
 * The one tRPC bootstrap: context, error formatting and the procedure ladder.
 *
 * Errors: AppErrors map to the matching tRPC code with their message; zod
 * input errors are flattened into `data.zodError`; anything else is reported
 * as INTERNAL_SERVER_ERROR with a generic message (the cause is logged, never
 * sent).
 */
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { z } from "zod";
import { AppError, isDatabaseUnavailable } from "../errors.ts";
import { log } from "../log.ts";

export interface ContextInner {
  headers: Headers;
}

/** The context without HTTP, for tests and server-side callers. */
export function createContextInner(options: { headers?: Headers } = {}): ContextInner {
  return { headers: options.headers ?? new Headers() };
}

export function createContext(options: { req: Request }): ContextInner {
  return createContextInner({ headers: options.req.headers });
}

export type Context = ContextInner;

const STATUS_TO_TRPC_CODE = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  409: "CONFLICT",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  422: "UNPROCESSABLE_CONTENT",
  429: "TOO_MANY_REQUESTS",
  500: "INTERNAL_SERVER_ERROR",
  503: "SERVICE_UNAVAILABLE",
} as const satisfies Record<number, TRPCError["code"]>;

/** Converts whatever a procedure threw into a TRPCError that is safe to send. */
export function toTRPCError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  if (error instanceof AppError) {
    const code = STATUS_TO_TRPC_CODE[error.status as keyof typeof STATUS_TO_TRPC_CODE] ?? "INTERNAL_SERVER_ERROR";
    return new TRPCError({ code, message: error.message, cause: error });
  }
  if (isDatabaseUnavailable(error)) {
    return new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "the database is unavailable; try again shortly" });
  }
  log.error({ module: "trpc", err: error }, "procedure failed");
  return new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "internal error" });
}

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const zodError = error.cause instanceof z.ZodError ? z.flattenError(error.cause) : null;
    const hideMessage = error.code === "INTERNAL_SERVER_ERROR";
    return {
      ...shape,
      message: hideMessage ? "internal error" : shape.message,
      data: { code: shape.data.code, httpStatus: shape.data.httpStatus, zodError },
    };
  },
});

/**
 * Maps what procedures throw to deliberate tRPC errors. tRPC wraps a thrown
 * non-tRPC error as INTERNAL_SERVER_ERROR with the original as its cause;
 * that cause decides the real code. Errors tRPC raised on purpose (input
 * validation, an explicit TRPCError) pass through.
 */
const errorMapping = t.middleware(async ({ next }) => {
  const result = await next();
  if (result.ok) return result;
  if (result.error.code !== "INTERNAL_SERVER_ERROR") throw result.error;
  throw toTRPCError(result.error.cause ?? result.error);
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure.use(errorMapping);
