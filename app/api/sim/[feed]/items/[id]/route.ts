// The simulated upstream's item API (thin events): GET {itemUrl}/{urlencoded id}.
import { jsonResponse } from "@/server/lib/http.ts";
import { itemAnswer } from "@/server/sim/upstream.ts";

export const dynamic = "force-dynamic";

export async function GET(_request: Request, context: { params: Promise<{ feed: string; id: string }> }): Promise<Response> {
  const { feed, id } = await context.params;
  const answer = itemAnswer(feed, id, Date.now());
  return jsonResponse(answer.status, answer.body);
}
