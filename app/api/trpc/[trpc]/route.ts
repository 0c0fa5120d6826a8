// tRPC over HTTP. Procedures live in server/api; this only adapts the request
// and refuses cross-site POSTs (the session cookie must not be usable from
// another site) and batches of more than MAX_BATCH_CALLS calls.
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter } from "@/server/api/root.ts";
import { MAX_BATCH_CALLS, assertBatchSize, createContext } from "@/server/api/trpc.ts";
import { assertSameOrigin } from "@/server/auth/request.ts";
import { errorResponse } from "@/server/lib/http.ts";

export const dynamic = "force-dynamic";

async function handler(req: Request): Promise<Response> {
  try {
    assertBatchSize(new URL(req.url));
  } catch (error) {
    return errorResponse(error);
  }
  return fetchRequestHandler({ endpoint: "/api/trpc", req, router: appRouter, maxBatchSize: MAX_BATCH_CALLS, createContext: () => createContext({ req }) });
}

export function GET(req: Request): Promise<Response> {
  return handler(req);
}

export async function POST(req: Request): Promise<Response> {
  try {
    assertSameOrigin(req);
  } catch (error) {
    return errorResponse(error);
  }
  return handler(req);
}
