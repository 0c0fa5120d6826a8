/**
 * The one tRPC bootstrap: context, error formatting and the procedure ladder
 * publicProcedure → protectedProcedure → tenantProcedure, and
 * protectedProcedure → adminProcedure → adminTenantProcedure.
 *
 * Access is decided here and nowhere else: each rung narrows ctx (a signed-in
 * user; a tenant the user may see; an admin; a tenant an admin acts on), and
 * procedures built on a rung cannot run without what it checked. Which
 * tenants a user may see is server/tenants/visibility.ts's rule; the tenant
 * is looked up by server/tenants/service.ts's one lookup. A viewer asking for
 * a tenant they are not a member of is refused whether or not the tenant
 * exists, so the answer does not reveal which tenants exist; an admin asking
 * for a missing one is told it is not found.
 *
 * Errors: AppErrors map to the matching tRPC code with their message; zod
 * input errors go to `data.zodError`, per field path; anything else is reported
 * as INTERNAL_SERVER_ERROR with a generic message and `data.requestId` (the
 * cause is logged under that id, never sent), wherever it was thrown: in a
 * procedure, a middleware or the context.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { z } from "zod";
import { sessionTokenOf } from "../auth/request.ts";
import { userForSession, type SessionUser } from "../auth/session.ts";
import { AppError, internalError, isDatabaseUnavailable } from "../errors.ts";
import { ZTenantSlug } from "../schemas/tenant.ts";
import { findUnstorable } from "../schemas/text.ts";
import { noSuchTenant, tenantBySlug, type PublicTenant } from "../tenants/service.ts";
import { maySee, seesEveryTenant } from "../tenants/visibility.ts";

export interface Context {
  user: SessionUser | null;
}

/** The context without HTTP, for tests and server-side callers. */
export function createContextInner(options: { user?: SessionUser | null } = {}): Context {
  return { user: options.user ?? null };
}

export async function createContext(options: { req: Request }): Promise<Context> {
  const user = await userForSession(sessionTokenOf(options.req));
  return createContextInner({ user });
}

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
  return new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "internal error", cause: internalError(error, "trpc") });
}

export interface InputErrors {
  /** Messages about the input as a whole. */
  formErrors: string[];
  /** Messages per field, keyed by the field's path: "email", or "quotas.weight" in a nested input. */
  fieldErrors: Record<string, string[]>;
}

/** zod's issues by field path (z.flattenError keeps only the first path segment, losing nested fields). */
export function inputErrors(error: z.ZodError): InputErrors {
  const result: InputErrors = { formErrors: [], fieldErrors: {} };
  for (const issue of error.issues) {
    if (issue.path.length === 0) result.formErrors.push(issue.message);
    else (result.fieldErrors[issue.path.map(String).join(".")] ??= []).push(issue.message);
  }
  return result;
}

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const zodError = error.cause instanceof z.ZodError ? inputErrors(error.cause) : null;
    if (error.code !== "INTERNAL_SERVER_ERROR") return { ...shape, data: { code: shape.data.code, httpStatus: shape.data.httpStatus, zodError } };
    // Mapped by errorMapping (the cause holds its id), or thrown before it ran (the context): logged here.
    const { cause } = error;
    const requestId = (cause instanceof AppError ? cause.extra.requestId : undefined) ?? internalError(cause ?? error, "trpc").extra.requestId;
    return {
      ...shape,
      // The id in the message too, so the UI shows it as it shows any error (components/errors.ts).
      message: `internal error (request id ${requestId})`,
      data: { code: shape.data.code, httpStatus: shape.data.httpStatus, zodError: null, requestId },
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

/**
 * Refuses, as a BAD_REQUEST naming the field, any input holding a string
 * PostgreSQL could not store (NUL, a lone surrogate), at any depth, keys
 * included: for every procedure at once, so no search box, cursor or name
 * can reach a query the database would fail.
 */
const storableInput = t.middleware(async ({ getRawInput, next }) => {
  const found = findUnstorable(await getRawInput());
  if (found) {
    // ZodRealError, an Error, so tRPC keeps it as the cause for errorFormatter (z.ZodError is not one).
    const cause = new z.ZodRealError([{ code: "custom", path: found.path, message: found.message, input: undefined }]);
    throw new TRPCError({ code: "BAD_REQUEST", message: `${found.path.join(".") || "input"}: ${found.message}`, cause });
  }
  return next();
});

/** The most calls one tRPC batch request may hold (the client's httpBatchLink sends at most as many): a bigger one is a 400. */
export const MAX_BATCH_CALLS = 10;

/** A 400 AppError when `url` is a tRPC batch of more than MAX_BATCH_CALLS calls, before any is parsed or run. */
export function assertBatchSize(url: URL): void {
  if (url.searchParams.get("batch") !== "1") return;
  const calls = url.pathname.slice(url.pathname.lastIndexOf("/") + 1).split(",").length;
  if (calls > MAX_BATCH_CALLS) throw new AppError("bad_request", `a batch may hold at most ${MAX_BATCH_CALLS} calls; this one has ${calls}`);
}

export const publicProcedure = t.procedure.use(errorMapping).use(storableInput);

/** Signed in: ctx.user is set. */
export const protectedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.user) throw new TRPCError({ code: "UNAUTHORIZED", message: "sign in first" });
  return next({ ctx: { user: ctx.user } });
});

/** An admin: tenants, quotas, secrets, dead letters, users. */
export const adminProcedure = protectedProcedure.use(({ ctx, next }) => {
  if (ctx.user.role !== "admin") throw new TRPCError({ code: "FORBIDDEN", message: "admins only" });
  return next({ ctx });
});

const ZTenantInput = z.object({ tenant: ZTenantSlug });

/** The tenant `slug` names, if `user` may see it; FORBIDDEN if not, or NOT_FOUND for a user who may see every tenant. */
async function tenantFor(user: SessionUser, slug: string): Promise<PublicTenant> {
  const tenant = await tenantBySlug(slug);
  if (tenant && maySee(user, tenant)) return tenant;
  // Only someone who may see every tenant learns that this one does not exist.
  if (seesEveryTenant(user)) throw noSuchTenant(slug);
  throw new TRPCError({ code: "FORBIDDEN", message: "you do not have access to this tenant" });
}

/** Input names a tenant the user may see: ctx.tenant is it. */
export const tenantProcedure = protectedProcedure
  .input(ZTenantInput)
  .use(async ({ ctx, input, next }) => next({ ctx: { tenant: await tenantFor(ctx.user, input.tenant) } }));

/** An admin, and input names a tenant: ctx.tenant is it. Non-admins are refused before any lookup. */
export const adminTenantProcedure = adminProcedure
  .input(ZTenantInput)
  .use(async ({ ctx, input, next }) => next({ ctx: { tenant: await tenantFor(ctx.user, input.tenant) } }));
