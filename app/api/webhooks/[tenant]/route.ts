// POST one signed event. The contract is in docs/design.md; the work is in server/ingest.
import { handleWebhook } from "@/server/ingest/webhook.ts";

export const dynamic = "force-dynamic";

export async function POST(request: Request, context: { params: Promise<{ tenant: string }> }): Promise<Response> {
  const { tenant } = await context.params;
  return handleWebhook(request, tenant);
}
