/**
 * The webhook endpoints of docs/design.md, independent of Next.js: a Request in,
 * a Response out. Route handlers in app/api/webhooks call these and nothing else.
 *
 * Order of checks, cheapest and least trusting first: media type, headers,
 * tenant, body size (while reading), timestamp and signature, JSON, envelope,
 * rate limit, storage. Tokens are spent only by correctly signed requests, so
 * a stranger cannot drain a tenant's quota. The 2xx is returned only after
 * storeEvents has resolved, i.e. after the commit.
 */
import { AppError, ErrorCodes } from "../errors.ts";
import { env } from "../env.ts";
import { errorResponse, jsonResponse } from "../lib/http.ts";
import { metrics } from "../metrics.ts";
import { readBodyWithLimit, parseJson, requireJsonContentType } from "../lib/body.ts";
import { ZBatchBody, invalidEvent, parseEvent, zodDetails, type ValidEvent } from "./envelope.ts";
import { ZEventId } from "../core/event.ts";
import { admit } from "./rate-limit.ts";
import { verifySignature } from "./signature.ts";
import { storeEvents, type StoreOutcome } from "./store-events.ts";
import { findIngestTenant, liveSecrets, revalidateIngestTenant, type IngestTenant } from "./tenant-lookup.ts";
import { signalNewEvents } from "../lib/wake.ts";
import type { WebhookAnswer } from "../stats/rollups.ts";
import { countWebhookAnswer } from "./webhook-answers.ts";

interface Authenticated {
  tenant: IngestTenant;
  webhookId: string;
  json: unknown;
}

function header(request: Request, name: string): string {
  const value = request.headers.get(name);
  if (value === null || value.trim() === "") throw new AppError("missing_header", `the ${name} header is required`);
  return value.trim();
}

/** Everything up to and including signature verification and JSON parsing. */
async function authenticate(request: Request, slug: string, limitBytes: number): Promise<Authenticated> {
  requireJsonContentType(request);
  const webhookId = header(request, "webhook-id");
  const timestamp = header(request, "webhook-timestamp");
  const signatureHeader = header(request, "webhook-signature");

  let tenant = await findIngestTenant(slug);
  if (!tenant) throw new AppError("tenant_not_found", `no tenant with slug ${JSON.stringify(slug.slice(0, 64))}`);

  const body = await readBodyWithLimit(request, limitBytes);
  const now = new Date();
  const signed = { id: webhookId, timestamp, signatureHeader, body };
  const nowSeconds = Math.floor(now.getTime() / 1000);
  try {
    verifySignature(signed, liveSecrets(tenant, now), nowSeconds);
  } catch (error) {
    if (!(error instanceof AppError && error.code === "invalid_signature")) throw error;
    // The cached secrets may be stale: rotated by another process since this one cached them.
    const fresh = await revalidateIngestTenant(slug);
    if (!fresh || fresh === tenant) throw error;
    tenant = fresh;
    verifySignature(signed, liveSecrets(tenant, now), nowSeconds);
  }
  return { tenant, webhookId, json: parseJson(body) };
}

function respond(endpoint: "single" | "batch", response: Response): Response {
  metrics.webhookResponses.inc({ endpoint, status: String(response.status) });
  return response;
}

/** The dashboard's name for an authenticated answer that stored nothing, if it is one. */
function answerOf(error: unknown): WebhookAnswer | null {
  if (!(error instanceof AppError)) return null;
  if (error.code === "rate_limited" || error.code === "quota_exceeded") return "rateLimited";
  if (error.code === "invalid_event") return "invalid";
  if (error.code === "conflict") return "conflicts";
  return null;
}

/** POST /api/webhooks/{tenant}: one event, whose id is the webhook-id header. */
export async function handleWebhook(request: Request, slug: string): Promise<Response> {
  let tenant: IngestTenant | undefined;
  try {
    const authenticated = await authenticate(request, slug, env.WEBHOOK_MAX_BODY_BYTES);
    tenant = authenticated.tenant;
    const event = parseEvent(authenticated.webhookId, authenticated.json);
    await admit(tenant, 1);
    const [outcome] = await storeEvents(tenant.id, [event]);
    if (outcome === "conflict") {
      throw new AppError("conflict", `event ${authenticated.webhookId} was already stored with a different payload`);
    }
    if (outcome === "accepted") {
      signalNewEvents();
      return respond("single", jsonResponse(202, { status: "accepted" }));
    }
    countWebhookAnswer(tenant.id, "redelivered");
    return respond("single", jsonResponse(200, { status: "duplicate" }));
  } catch (error) {
    const answer = answerOf(error);
    if (tenant && answer) countWebhookAnswer(tenant.id, answer);
    return respond("single", errorResponse(error));
  }
}

type BatchResult =
  { id: string; status: StoreOutcome } | { id: string | null; status: "invalid"; error: { code: "invalid_event"; message: string; details?: unknown } };

/**
 * POST /api/webhooks/{tenant}/batch: up to 1,000 events, each with its own id.
 * Invalid events are reported and skipped; the valid ones are stored in one
 * transaction. 202 when any event was accepted, 200 when none was new, 422
 * when none was valid.
 */
export async function handleBatchWebhook(request: Request, slug: string): Promise<Response> {
  let tenant: IngestTenant | undefined;
  let validCount = 0;
  try {
    const authenticated = await authenticate(request, slug, env.WEBHOOK_MAX_BATCH_BYTES);
    tenant = authenticated.tenant;
    const { json } = authenticated;
    const batch = ZBatchBody.safeParse(json);
    if (!batch.success) throw invalidEvent(zodDetails(batch.error));

    const results: (BatchResult | undefined)[] = [];
    const valid: { index: number; event: ValidEvent }[] = [];
    batch.data.events.forEach((raw, index) => {
      const rawId = typeof raw === "object" && raw !== null ? (raw as { id?: unknown }).id : undefined;
      const id = ZEventId.safeParse(rawId).success ? (rawId as string) : null;
      try {
        if (id === null) throw invalidEvent([{ path: "id", message: "must be 1–255 visible ASCII characters without spaces" }]);
        valid.push({ index, event: parseEvent(id, raw) });
      } catch (error) {
        const { message, extra } = error as AppError;
        results[index] = { id, status: "invalid", error: { code: "invalid_event", message, details: extra.details } };
      }
    });
    countWebhookAnswer(tenant.id, "invalid", batch.data.events.length - valid.length);
    if (valid.length === 0) {
      const body = { error: { code: "invalid_event", message: "no event in the batch is valid" }, results };
      return respond("batch", jsonResponse(ErrorCodes.invalid_event, body));
    }

    validCount = valid.length;
    await admit(tenant, valid.length);
    const outcomes = await storeEvents(
      tenant.id,
      valid.map(({ event }) => event),
    );
    valid.forEach(({ index, event }, i) => {
      results[index] = { id: event.eventId, status: outcomes[i] as StoreOutcome };
    });
    countWebhookAnswer(tenant.id, "redelivered", outcomes.filter((outcome) => outcome === "duplicate").length);
    countWebhookAnswer(tenant.id, "conflicts", outcomes.filter((outcome) => outcome === "conflict").length);
    const anyAccepted = outcomes.includes("accepted");
    if (anyAccepted) signalNewEvents();
    return respond("batch", jsonResponse(anyAccepted ? 202 : 200, { results }));
  } catch (error) {
    const answer = answerOf(error);
    // A refused batch stored none of its events: each valid one counts (the invalid ones already did).
    if (tenant && answer === "rateLimited") countWebhookAnswer(tenant.id, answer, validCount);
    else if (tenant && answer === "invalid") countWebhookAnswer(tenant.id, answer);
    return respond("batch", errorResponse(error));
  }
}
