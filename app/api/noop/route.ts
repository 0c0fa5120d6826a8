// A route that does nothing: the framework's own floor, measured beside the webhook by `npm run bench`.
export const dynamic = "force-dynamic";

export function POST(): Response {
  return new Response('{"status":"ok"}', { status: 200, headers: { "content-type": "application/json" } });
}
