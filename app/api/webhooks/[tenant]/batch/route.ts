// POST up to 1,000 signed events at once. The contract is in docs/design.md; the work is in server/ingest.
// In production (`npm start`) the server's fast path answers this route first (server/http/fast-path.ts);
// this handler serves `next dev` and any host that runs Next.js alone.
import { fromWebRequest, handleBatchWebhook } from "@/server/ingest/webhook.ts";
import { toResponse } from "@/server/lib/http.ts";

export const dynamic = "force-dynamic";

export async function POST(request: Request, context: { params: Promise<{ tenant: string }> }): Promise<Response> {
  const { tenant } = await context.params;
  return toResponse(await handleBatchWebhook(fromWebRequest(request), tenant));
}
