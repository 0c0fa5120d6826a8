// The simulated upstream's pull contract (server/sim/upstream.ts): the demo tenant's source.
import { jsonResponse } from "@/server/lib/http.ts";
import { feedAnswer } from "@/server/sim/upstream.ts";

export const dynamic = "force-dynamic";

export async function GET(request: Request, context: { params: Promise<{ feed: string }> }): Promise<Response> {
  const { feed } = await context.params;
  const answer = feedAnswer(feed, new URL(request.url).searchParams, Date.now());
  return jsonResponse(answer.status, answer.body);
}
