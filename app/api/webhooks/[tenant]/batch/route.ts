// POST up to 1,000 signed events at once. The contract is in docs/design.md; the work is in server/ingest.
import { handleBatchWebhook } from "@/server/ingest/webhook.ts";

export const dynamic = "force-dynamic";

export async function POST(request: Request, context: { params: Promise<{ tenant: string }> }): Promise<Response> {
  const { tenant } = await context.params;
  return handleBatchWebhook(request, tenant);
}
