/**
 * The webhook endpoints of docs/design.md, independent of any framework:
 * they take what they need (a header lookup, a body reader that enforces
 * the limit while reading, the slug) and return an HttpReply. The Next.js
 * route handlers (app/api/webhooks) adapt a web Request to this, and the
 * production server's fast path (server/http/fast-path.ts) adapts node:http
 * without any web-stream conversion; both call these and nothing else.
 *
 * Order of checks, cheapest and least trusting first: media type, headers,
 * tenant (a slug that cannot exist is refused without a query), body size
 * (while reading), timestamp and signature, JSON, envelope, rate limit,
 * storage. Tokens are spent only by correctly signed requests, so a stranger
 * cannot drain a tenant's quota. The 2xx is returned only after the event's
 * commit: a single event waits for its group commit
 * (server/ingest/group-commit.ts), a batch for its own INSERT.
 *
 * Time spent waiting on PostgreSQL (the tenant lookup, the insert) is
 * bounded per request by WEBHOOK_DATABASE_TIMEOUT_MS: past it, and when the
 * pool is saturated, the answer is 503 with Retry-After (server/lib/wait-budget.ts);
 * a stalled database is never a request that hangs.
 *
 * Senders that use Svix send the same scheme under other names: each
 * webhook-* header may come as svix-* instead (webhook-* wins when both
 * are there), as the svix library's own verifier accepts.
 */
import { AppError, DatabaseUnavailableError, ErrorCodes } from "../errors.ts";
import { WaitBudget } from "../lib/wait-budget.ts";
import { env } from "../env.ts";
import { errorReply, jsonReply, type HttpReply } from "../lib/http.ts";
import { metrics } from "../metrics.ts";
import { isJsonContentType, parseJson, readBodyWithLimit } from "../lib/body.ts";
import { ZBatchBody, invalidEvent, parseBatchEvent, parseEvent, zodDetails, type ValidEvent } from "./envelope.ts";
import { ZEventId } from "../core/event.ts";
import { groupCommitter } from "./group-commit.ts";
import { admit, admitTogether, StaleTenant } from "./rate-limit.ts";
import { verifySignature, type SignedRequest } from "./signature.ts";
import { storeEvents, type StoreOutcome } from "./store-events.ts";
import { findCheckedTenant, findIngestTenant, liveKeys, revalidateIngestTenant, withoutCheck, type IngestTenant } from "./tenant-lookup.ts";
import { signalNewEvents } from "../lib/wake.ts";
import { REQUEST_ID_HEADER, requestIdFrom } from "../lib/request-id.ts";
import type { WebhookAnswer } from "../stats/rollups.ts";
import { countWebhookAnswer } from "./webhook-answers.ts";

/** What a webhook handler needs of a request, whatever server received it. */
export interface WebhookRequest {
  /** A header's value by its lower-case name (repeats joined by ", ", as fetch and node:http do), or undefined. */
  header(name: string): string | null | undefined;
  /** The raw body, refused with a 413 AppError once it passes `limitBytes`, checked while reading. */
  readBody(limitBytes: number): Promise<Buffer>;
}

interface Authenticated {
  tenant: IngestTenant;
  webhookId: string;
  json: unknown;
  /** What was verified, and when: to verify again against a reloaded tenant. */
  signed: SignedRequest;
  now: Date;
}

type TenantLookup = (slug: string) => Promise<IngestTenant | null>;

/** After this many stale decisions in a row (the tenant changing under a request), the request is decided without the check. */
const MAX_STALE_RETRIES = 2;

/** webhook-{name}, or its Svix alias svix-{name}; trimmed, and required. */
function signedHeader(request: WebhookRequest, name: "id" | "timestamp" | "signature"): string {
  for (const prefix of ["webhook-", "svix-"]) {
    const value = request.header(prefix + name)?.trim();
    if (value) return value;
  }
  throw new AppError("missing_header", `the webhook-${name} header is required`);
}

function tenantNotFound(slug: string): AppError {
  return new AppError("tenant_not_found", `no tenant with slug ${JSON.stringify(slug.slice(0, 64))}`);
}

/** The request's budget for waiting on PostgreSQL. */
function databaseBudget(): WaitBudget {
  return new WaitBudget(env.WEBHOOK_DATABASE_TIMEOUT_MS, (ms) => new DatabaseUnavailableError(`PostgreSQL did not answer within ${ms} ms`));
}

/** Everything up to and including signature verification and JSON parsing. */
async function authenticate(
  request: WebhookRequest,
  slug: string,
  limitBytes: number,
  budget: WaitBudget,
  lookup: TenantLookup = findIngestTenant,
): Promise<Authenticated> {
  if (!isJsonContentType(request.header("content-type"))) {
    throw new AppError("unsupported_media_type", "Content-Type must be application/json");
  }
  const webhookId = signedHeader(request, "id");
  const timestamp = signedHeader(request, "timestamp");
  const signatureHeader = signedHeader(request, "signature");

  let tenant = await budget.run(lookup(slug));
  if (!tenant) throw tenantNotFound(slug);

  const body = await request.readBody(limitBytes);
  const now = new Date();
  const signed = { id: webhookId, timestamp, signatureHeader, body };
  const nowSeconds = Math.floor(now.getTime() / 1000);
  try {
    verifySignature(signed, liveKeys(tenant, now), nowSeconds);
  } catch (error) {
    if (!(error instanceof AppError && error.code === "invalid_signature")) throw error;
    // The cached secrets may be stale: rotated by another process since this one cached them.
    const fresh = await budget.run(revalidateIngestTenant(slug));
    if (!fresh || fresh === tenant) throw error;
    tenant = fresh;
    verifySignature(signed, liveKeys(tenant, now), nowSeconds);
  }
  return { tenant, webhookId, json: parseJson(body), signed, now };
}

function respond(endpoint: "single" | "batch", reply: HttpReply, requestId: string): HttpReply {
  metrics.webhookResponses.inc({ endpoint, status: String(reply.status) });
  reply.headers[REQUEST_ID_HEADER] = requestId;
  return reply;
}

/** The dashboard's name for an authenticated answer that stored nothing, if it is one. */
function answerOf(error: unknown): WebhookAnswer | null {
  if (!(error instanceof AppError)) return null;
  if (error.code === "rate_limited" || error.code === "quota_exceeded") return "rateLimited";
  if (error.code === "invalid_event") return "invalid";
  if (error.code === "conflict") return "conflicts";
  return null;
}

/**
 * The single event's rate-limit decision, made on this process's copy of the
 * tenant when that copy is still current (checked in the same round trip);
 * when it is not, the tenant is reloaded, the signature verified again against
 * it, and the decision made on it. Returns the tenant the decision was made on.
 */
async function admitCurrent({ tenant: first, signed, now }: Authenticated, slug: string, budget: WaitBudget): Promise<IngestTenant> {
  let tenant = first;
  for (let stale = 0; ; stale++) {
    try {
      await admitTogether(tenant, 1);
      return tenant;
    } catch (error) {
      if (!(error instanceof StaleTenant)) throw error;
      const fresh = await budget.run(findCheckedTenant(slug, { fresh: true }));
      if (!fresh) throw tenantNotFound(slug);
      verifySignature(signed, liveKeys(fresh, now), Math.floor(now.getTime() / 1000));
      tenant = stale + 1 >= MAX_STALE_RETRIES ? withoutCheck(fresh) : fresh;
    }
  }
}

/** POST /api/webhooks/{tenant}: one event, whose id is the webhook-id header. */
export async function handleWebhook(request: WebhookRequest, slug: string): Promise<HttpReply> {
  let tenant: IngestTenant | undefined;
  const budget = databaseBudget();
  // The production server already put a valid one there; the Next.js route handlers may not have.
  const requestId = requestIdFrom(request.header(REQUEST_ID_HEADER));
  try {
    const authenticated = await authenticate(request, slug, env.WEBHOOK_MAX_BODY_BYTES, budget, findCheckedTenant);
    tenant = authenticated.tenant;
    const event = parseEvent(authenticated.webhookId, authenticated.json);
    event.requestId = requestId;
    tenant = await admitCurrent(authenticated, slug, budget);
    const outcome = await budget.run(groupCommitter().store(tenant.id, event));
    if (outcome === "conflict") {
      throw new AppError("conflict", `event ${authenticated.webhookId} was already stored with a different payload`);
    }
    if (outcome === "accepted") {
      signalNewEvents();
      return respond("single", jsonReply(202, { status: "accepted" }), requestId);
    }
    countWebhookAnswer(tenant.id, "redelivered");
    return respond("single", jsonReply(200, { status: "duplicate" }), requestId);
  } catch (error) {
    const answer = answerOf(error);
    if (tenant && answer) countWebhookAnswer(tenant.id, answer);
    return respond("single", errorReply(error), requestId);
  }
}

type BatchResult =
  { id: string; status: StoreOutcome } | { id: string | null; status: "invalid"; error: { code: "invalid_event"; message: string; details?: unknown } };

/**
 * POST /api/webhooks/{tenant}/batch: up to 1,000 events, each with its own id.
 * Invalid events are reported and skipped; the valid ones are stored in one
 * transaction of their own (no group commit: a batch is already a group).
 * 202 when any event was accepted, 200 when none was new, 422 when none was
 * valid.
 */
export async function handleBatchWebhook(request: WebhookRequest, slug: string): Promise<HttpReply> {
  let tenant: IngestTenant | undefined;
  let validCount = 0;
  const budget = databaseBudget();
  const requestId = requestIdFrom(request.header(REQUEST_ID_HEADER));
  try {
    const authenticated = await authenticate(request, slug, env.WEBHOOK_MAX_BATCH_BYTES, budget);
    tenant = authenticated.tenant;
    const { json } = authenticated;
    const batch = ZBatchBody.safeParse(json);
    if (!batch.success) throw invalidEvent(zodDetails(batch.error));

    const results: (BatchResult | undefined)[] = [];
    const valid: { index: number; event: ValidEvent }[] = [];
    batch.data.events.forEach((raw, index) => {
      try {
        valid.push({ index, event: { ...parseBatchEvent(raw), requestId } });
      } catch (error) {
        // The result names the event when its id was valid, so the sender can tell which one failed.
        const rawId = typeof raw === "object" && raw !== null ? (raw as { id?: unknown }).id : undefined;
        const id = ZEventId.safeParse(rawId).success ? (rawId as string) : null;
        const { message, extra } = error as AppError;
        results[index] = { id, status: "invalid", error: { code: "invalid_event", message, details: extra.details } };
      }
    });
    countWebhookAnswer(tenant.id, "invalid", batch.data.events.length - valid.length);
    if (valid.length === 0) {
      const body = { error: { code: "invalid_event", message: "no event in the batch is valid" }, results };
      return respond("batch", jsonReply(ErrorCodes.invalid_event, body), requestId);
    }

    validCount = valid.length;
    await admit(tenant, valid.length);
    const outcomes = await budget.run(
      storeEvents(
        tenant.id,
        valid.map(({ event }) => event),
      ),
    );
    valid.forEach(({ index, event }, i) => {
      results[index] = { id: event.eventId, status: outcomes[i] as StoreOutcome };
    });
    countWebhookAnswer(tenant.id, "redelivered", outcomes.filter((outcome) => outcome === "duplicate").length);
    countWebhookAnswer(tenant.id, "conflicts", outcomes.filter((outcome) => outcome === "conflict").length);
    const anyAccepted = outcomes.includes("accepted");
    if (anyAccepted) signalNewEvents();
    return respond("batch", jsonReply(anyAccepted ? 202 : 200, { results }), requestId);
  } catch (error) {
    const answer = answerOf(error);
    // A refused batch stored none of its events: each valid one counts (the invalid ones already did).
    if (tenant && answer === "rateLimited") countWebhookAnswer(tenant.id, answer, validCount);
    else if (tenant && answer === "invalid") countWebhookAnswer(tenant.id, answer);
    return respond("batch", errorReply(error), requestId);
  }
}

/** A web Request as a WebhookRequest: for the Next.js route handlers. */
export function fromWebRequest(request: Request): WebhookRequest {
  return { header: (name) => request.headers.get(name), readBody: (limitBytes) => readBodyWithLimit(request, limitBytes) };
}
