// One bridged LLM request, start to end (DESIGN §6, reference §6-§8): read the body, record
// the interception start, proxy to the provider (streaming event by event, or blocking), watch
// the response for usage / tool calls / thoughts, and queue the follow-up records — always
// ending with RecordInterceptionEnded, whatever happened.
//
// The start: with RecordBatch (API 1.1) it is queued like every other record — no RPC on the
// request path — and the request fails ("failed to record interception") only when the queue
// refuses it (full, or shutting down). Against a 1.0 control plane it is the synchronous
// RecordInterception, as in the reference.

import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Cancellation } from "./cancellation.js";
import { isBreakerFailureStatus } from "./circuit-breaker.js";
import type { BreakerOutcome, CircuitBreakers } from "./circuit-breaker.js";
import { detectClient, detectClientSessionId } from "./client-detection.js";
import type { ClientSessionBody } from "./client-detection.js";
import { decodeRequestBody } from "./content-coding.js";
import type { AuthorizedUser, ControlPlaneClient } from "./control-plane-client.js";
import { maskCredential } from "./credentials.js";
import { RecordInterceptionError, isRequestBodyTooLargeError } from "./errors.js";
import { clientResponseHeaders, upstreamRequestHeaders } from "./headers.js";
import type { CredentialKind } from "./headers.js";
import { tryParseJson } from "./json.js";
import type { GatewayMetrics } from "./metrics.js";
import type { GatewayOptions } from "./options.js";
import { inspectRequestOffThread } from "./parse-thread.js";
import type { Observation, ParsedRequest, ProviderApi } from "./providers/provider-api.js";
import { emptyObservation } from "./providers/provider-api.js";
import { providerOverloadedBody } from "./providers/error-envelope.js";
import { requestWithKeyFailover } from "./provider-key-pool.js";
import type { KeyInUse, ProviderKeyPool } from "./provider-key-pool.js";
import type { RecordQueue } from "./record-queue.js";
import type { RequestLog } from "./request-log.js";
import { readRequestBody } from "./request-body.js";
import { requestBodyObject, requestBodyText } from "./request-inspection.js";
import {
  endedRecord,
  interceptionRecord,
  promptRecord,
  thoughtRecord,
  tokenUsageRecord,
  toolUsageRecord,
} from "./records.js";
import type { GatewayRecord } from "./records.js";
import { sendJson, writeChunk } from "./response-writer.js";
import { upstreamTarget } from "./routes.js";
import type { BridgedRoute, ProviderName } from "./routes.js";
import { SseParser } from "./sse-parser.js";
import type { SseEvent } from "./sse-parser.js";
import type { Upstream, UpstreamResponse } from "./upstream.js";
import { UpstreamDeadline, errorMessage, upstreamFailure } from "./upstream-deadline.js";
import type { UpstreamFailure } from "./upstream-deadline.js";
import { requestWithRetries, retryReason } from "./upstream-retry.js";
import type { RetryNote } from "./upstream-retry.js";
import { uuidv7 } from "./uuid7.js";

/** Model names are logged up to this many characters. */
const MAX_LOGGED_MODEL_CHARS = 256;

/** Header naming the interception on bridged responses, for support and debugging. */
export const INTERCEPTION_ID_HEADER = "x-weir-interception-id";

/** Shared services a bridged request uses. */
export interface ExchangeDeps {
  readonly options: GatewayOptions;
  readonly controlPlane: Pick<ControlPlaneClient, "recordInterception" | "recordsInBatches">;
  readonly records: Pick<RecordQueue<GatewayRecord>, "admit" | "enqueue">;
  readonly upstream: Upstream;
  readonly metrics: GatewayMetrics;
  /** With --circuit-breaker. */
  readonly circuitBreakers?: CircuitBreakers | undefined;
  /** Central provider keys (centralized mode), per provider. */
  readonly providerKeys: Readonly<Record<ProviderName, ProviderKeyPool>>;
  /** Aborted when the gateway begins to shut down (upstream retries stop). */
  readonly draining: AbortSignal;
}

/** One authorized request. */
export interface ExchangeContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly user: AuthorizedUser;
  /** BYOK: the request carries a provider credential of its own (`byokCredential`), which goes upstream. */
  readonly byok: boolean;
  /** SECURITY: recorded and logged only masked. */
  readonly byokCredential: string | undefined;
  /** The Weir key the client presented (none for a delegated request). SECURITY: never logged or forwarded. */
  readonly presentedKey: string | undefined;
  readonly logger: RequestLog;
  /**
   * Aborted when the client disconnects (ClientDisconnectedError), at the shutdown deadline
   * (ShutdownAbortError), or when the upstream call times out (UpstreamTimeoutError).
   */
  readonly cancellation: Cancellation;
}

type Failure = UpstreamFailure;

interface ProxyResult {
  readonly observation: Observation;
  readonly failure: Failure | undefined;
  readonly status: number;
}

/** What relaying one upstream answer needs, whatever its shape. */
interface Relay {
  readonly ctx: ExchangeContext;
  readonly api: ProviderApi;
  readonly deadline: UpstreamDeadline;
  /** The interception's id, named on every answer. */
  readonly id: string;
}

/**
 * Answers a failure before anything reached the client: the provider's own JSON error (504 for a
 * timeout, 502 otherwise) naming the interception, and only the id of the upstream's headers
 * (its framing, a Content-Encoding, do not describe this body). Returns the status.
 */
function answerFailure(relay: Relay, failure: Failure): number {
  const status = failure.type === "timeout" ? 504 : 502;
  if (failure.type !== "client_disconnected") {
    sendJson(relay.ctx.res, status, relay.api.errorBody(status, failure.clientMessage), { [INTERCEPTION_ID_HEADER]: relay.id });
  }
  return status;
}

/** Serves one bridged route. Errors thrown before the interception is recorded go to the HTTP error mapping. */
export async function serveInterception(ctx: ExchangeContext, route: BridgedRoute, api: ProviderApi, deps: ExchangeDeps): Promise<void> {
  const { req, res, user, byok } = ctx;
  const { options, metrics } = deps;
  const clock = options.clock;
  const startedAtMs = clock.now();

  let raw = await readRequestBody(req, options.maxRequestBodyBytes, options.offThreadParseBytes);
  // Decoded if the client compressed it: judged, recorded and sent upstream as plain JSON. The
  // usual request has no such header and skips the call (an async function costs a promise).
  const encoding = req.headers["content-encoding"];
  if (encoding !== undefined) raw = await decodeRequestBody(raw, encoding, options.maxRequestBodyBytes);
  // A large body is judged and parsed on the parse thread (parse-thread.ts), the usual small one
  // here: the same steps (request-inspection.ts), without a round trip to the thread.
  let parsed: ParsedRequest;
  // What client detection reads of the body: the body itself, or the thread's digest of it.
  let sessionBody: ClientSessionBody;
  if (raw.length < options.offThreadParseBytes) {
    const text = requestBodyText(raw);
    const body = requestBodyObject(text);
    parsed = api.parseRequest(body, text);
    sessionBody = body;
  } else {
    // The thread may have taken raw's memory: its answer gives the bytes back.
    ({ parsed, raw, clientSessionBody: sessionBody } = await inspectRequestOffThread(raw, api.api));
  }

  const kind: CredentialKind = byok ? "byok" : "centralized";
  const centralKey = byok ? undefined : deps.providerKeys[route.provider].pick();
  // SECURITY: only the masked hint of the provider credential is recorded or logged.
  const credentialHint = maskCredential(byok ? ctx.byokCredential : centralKey);
  const client = detectClient(req.headers);
  const userAgent = req.headers["user-agent"] ?? "";
  const id = uuidv7(startedAtMs);
  const log = ctx.logger.with({
    interception_id: id,
    provider: route.provider,
    // A client names the model, at any length: a 10 MiB name made a 10 MiB line (and past 16 MiB
    // the logger dropped the line, and with it the request's trace).
    model: parsed.model.length > MAX_LOGGED_MODEL_CHARS ? `${parsed.model.slice(0, MAX_LOGGED_MODEL_CHARS)}…` : parsed.model,
    streaming: parsed.stream,
    client,
    credential_kind: kind,
    credential_hint: credentialHint,
  });

  const startRecord = (): GatewayRecord => interceptionRecord({
    id,
    initiatorId: user.ownerId,
    apiKeyId: user.apiKeyId,
    username: user.username,
    provider: route.provider,
    model: parsed.model,
    client,
    clientSessionId: detectClientSessionId(client, req.headers, sessionBody),
    userAgent,
    credentialKind: kind,
    credentialHint,
    correlatingToolCallId: parsed.correlatingToolCallId,
    startedAtMs,
  });
  // When the interception cannot be recorded the request fails before any upstream call.
  if (!deps.records.admit(id)) throw new RecordInterceptionError();
  const batched = deps.controlPlane.recordsInBatches;
  // Not tied to the client's signal: once sent it must complete, so an interception that was
  // recorded is always ended below.
  if (!batched) await deps.controlPlane.recordInterception(startRecord());
  // Batched: the start is encoded and queued once the upstream request is handed to the pool
  // (the provider works meanwhile), and always ahead of its follow-up records (finish below).
  let startQueued = !batched;
  const queueStart = (): void => {
    if (startQueued) return;
    startQueued = true;
    deps.records.enqueue(startRecord());
  };
  log.debug("interception started");

  metrics.interceptionTally.started(route.provider, route.route);
  let result: ProxyResult = { observation: emptyObservation(), failure: undefined, status: 0 };
  // The central key being tried; after a failover, the one that answered.
  const inUse: KeyInUse = { key: centralKey };
  try {
    result = await proxy(ctx, route, api, deps, parsed, raw, id, inUse, queueStart);
  } catch (err) {
    // A bug, not an upstream problem: still end the interception.
    log.error({ err }, "interception failed unexpectedly");
    result = { observation: result.observation, failure: upstreamFailure("internal", errorMessage(err), "internal gateway error"), status: 500 };
    if (!res.headersSent) sendJson(res, 500, api.errorBody(500, "internal gateway error"), { [INTERCEPTION_ID_HEADER]: id });
    else res.destroy();
  } finally {
    queueStart();
    metrics.interceptionTally.ended(route.provider, route.route);
    const answeredHint = inUse.key === centralKey ? undefined : maskCredential(inUse.key);
    finish(deps, route, parsed, id, credentialHint, answeredHint, startedAtMs, result, log);
  }
}

async function proxy(
  ctx: ExchangeContext,
  route: BridgedRoute,
  api: ProviderApi,
  deps: ExchangeDeps,
  parsed: ParsedRequest,
  raw: Buffer,
  id: string,
  /** Centralized mode: the central key to try first; others replace it if the provider refuses it. */
  inUse: KeyInUse,
  /** Called once the upstream request is handed to the connection pool, in the same synchronous step. */
  onDispatched: () => void,
): Promise<ProxyResult> {
  const { req } = ctx;
  const { options } = deps;
  const provider = options[route.provider];
  const breakers = deps.circuitBreakers;
  const admission = breakers?.admit({ provider: route.provider, endpoint: route.route, model: parsed.model });
  if (admission !== undefined && !admission.admitted) return refuseOpenCircuit(ctx, route, id, admission.state, admission.retryAfterSeconds);
  const ticket = admission?.ticket;
  const deadline = new UpstreamDeadline(ctx.cancellation, options.clock, options.upstreamTimeoutMs);
  const relay: Relay = { ctx, api, deadline, id };
  try {
    let response: UpstreamResponse;
    const send = (key: string | undefined): Promise<UpstreamResponse> => {
      const pending = deps.upstream.request(upstreamTarget(provider.baseUrl, route.upstreamPath), {
        method: "POST",
        headers: upstreamRequestHeaders(req.headers, {
          provider: route.provider,
          kind: ctx.byok ? "byok" : "centralized",
          providerKey: key,
          weirKey: ctx.presentedKey,
          bodyDecoded: true,
          actor: options.sendActorHeaders ? { id: ctx.user.ownerId, username: ctx.user.username } : undefined,
        }),
        body: parsed.rewrittenBody ?? raw,
        cancellation: deadline.cancellation,
      });
      onDispatched();
      return pending;
    };
    const keys = deps.providerKeys[route.provider];
    let attempts = 0;
    // Each attempt fails over between central keys; a retry starts again from the pool's current
    // choice (a key refused meanwhile is cooling and skipped), so failover and retries compose.
    const attempt = (): Promise<UpstreamResponse> => {
      if (attempts++ > 0 && inUse.key !== undefined) inUse.key = keys.pick() ?? inUse.key;
      return requestWithKeyFailover(keys, inUse, send, (refused, next) => {
        deadline.touch();
        noteKeyFailover(deps, ctx, route, refused, next, id);
      });
    };
    try {
      // Without retries (the default) no retry state is built for the request.
      response = await (options.upstreamMaxRetries === 0
        ? attempt()
        : requestWithRetries(
            { maxRetries: options.upstreamMaxRetries, clock: options.clock },
            {
              send: attempt,
              exchange: ctx.cancellation,
              deadline,
              draining: deps.draining,
              // The breaker hears one outcome per request (below): a half-open trial is not
              // retried, and a circuit that opened meanwhile stops the retries.
              mayRetry: () => breakers === undefined || breakers.allowsRetry(ticket),
              onRetry: (note) => noteUpstreamRetry(deps, ctx, route, note, inUse.key, id),
            },
          ));
      deadline.touch();
    } catch (err) {
      const failure = deadline.failure(err);
      breakers?.report(ticket, breakerOutcomeOfFailure(failure));
      return { observation: emptyObservation(), failure, status: answerFailure(relay, failure) };
    }
    breakers?.report(ticket, isBreakerFailureStatus(response.statusCode) ? "failure" : "success");

    // A fresh object: each relay below completes it in place instead of copying it again.
    const headers = clientResponseHeaders(response.headers, ctx.byok ? "byok" : "centralized");
    headers[INTERCEPTION_ID_HEADER] = id;
    if (response.statusCode >= 400) return await relayUpstreamError(relay, response, headers);
    const contentType = String(response.headers["content-type"] ?? "");
    if (contentType.includes("text/event-stream")) return await relayStream(relay, response, headers, parsed.clientEvent, options.maxUpstreamEventChars);
    return await relayBlocking(relay, response, headers);
  } finally {
    deadline.dispose();
  }
}

/** Counts and logs one failover to the next central key (masked hints only). */
export function noteKeyFailover(
  deps: Pick<ExchangeDeps, "metrics">,
  ctx: Pick<ExchangeContext, "logger">,
  route: { readonly provider: ProviderName },
  refused: { readonly key: string; readonly status: number },
  next: string,
  interceptionId?: string,
): void {
  deps.metrics.providerKeyFailoversTotal.inc({ provider: route.provider, status: String(refused.status) });
  ctx.logger.info(
    { interception_id: interceptionId, provider: route.provider, status: refused.status, refused_key: maskCredential(refused.key), next_key: maskCredential(next) },
    "provider refused a central key; trying the next",
  );
}

/** Counts and logs one upstream retry (the key only as its masked hint). */
function noteUpstreamRetry(deps: Pick<ExchangeDeps, "metrics">, ctx: Pick<ExchangeContext, "logger">, route: BridgedRoute, note: RetryNote, key: string | undefined, interceptionId: string): void {
  deps.metrics.upstreamRetriesTotal.inc({ provider: route.provider, endpoint: route.route, reason: retryReason(note) });
  ctx.logger.info(
    {
      interception_id: interceptionId,
      provider: route.provider,
      attempt: note.attempt,
      status: note.status,
      error_code: note.errorCode,
      delay_ms: Math.round(note.delayMs),
      ...(key !== undefined ? { credential_hint: maskCredential(key) } : {}),
    },
    "upstream request failed; retrying",
  );
}

/** A provider that could not be reached, or did not answer in time, is failing; a client that left says nothing. */
function breakerOutcomeOfFailure(failure: Failure): BreakerOutcome {
  return failure.type === "timeout" || failure.type === "upstream_disconnected" ? "failure" : "neither";
}

/**
 * The circuit for this model is open (or its half-open trials are all taken): 503 at once, with
 * Retry-After, in the provider's own error shape (the reference's bodies: OpenAI's
 * service_unavailable, Anthropic's overloaded_error, which Claude Code retries). The interception
 * is recorded as failed, as the reference does: the user did ask.
 */
function refuseOpenCircuit(ctx: ExchangeContext, route: BridgedRoute, id: string, state: "open" | "half_open", retryAfterSeconds: number): ProxyResult {
  const message = "circuit breaker is open";
  sendJson(ctx.res, 503, providerOverloadedBody(route.provider, message), { [INTERCEPTION_ID_HEADER]: id, "retry-after": String(retryAfterSeconds) });
  const detail = state === "open" ? "the provider failed too often; not called" : "the provider is being retried; not called";
  return { observation: emptyObservation(), failure: upstreamFailure("upstream_error", `${message}: ${detail}`, message), status: 503 };
}

/** The whole upstream body; if it breaks half-way the client gets a clean error instead (502, or 504 for a timeout). */
async function collectBody(relay: Relay, response: UpstreamResponse): Promise<Buffer | ProxyResult> {
  try {
    return await response.body.bytes();
  } catch (err) {
    const failure = relay.deadline.failure(err);
    return { observation: emptyObservation(), failure, status: answerFailure(relay, failure) };
  }
}

/** Upstream HTTP errors go back with their status and body unchanged. */
async function relayUpstreamError(relay: Relay, response: UpstreamResponse, headers: OutgoingHttpHeaders): Promise<ProxyResult> {
  const body = await collectBody(relay, response);
  if (!Buffer.isBuffer(body)) return body;
  const res = relay.ctx.res;
  if (!res.destroyed) {
    headers["content-length"] = String(body.length);
    res.writeHead(response.statusCode, headers);
    res.end(body);
  }
  const text = body.toString("utf8");
  return {
    observation: emptyObservation(),
    // Recorded up to MAX_RECORDED_ERROR_BYTES (records.ts), like a stream's error event.
    failure: upstreamFailure("upstream_error", text),
    status: response.statusCode,
  };
}

/**
 * A JSON answer is collected whole before anything is sent: the client waits for all of it
 * anyway, and a body that breaks half-way can still become a clean error.
 */
async function relayBlocking(relay: Relay, response: UpstreamResponse, headers: OutgoingHttpHeaders): Promise<ProxyResult> {
  const body = await collectBody(relay, response);
  if (!Buffer.isBuffer(body)) return body;
  const res = relay.ctx.res;
  const delivered = !res.destroyed;
  if (delivered) {
    headers["content-length"] = String(body.length);
    res.writeHead(response.statusCode, headers);
    res.end(body);
  }
  // Read after the answer is on its way: the client does not wait for the bookkeeping.
  // Providers answer uncompressed (Accept-Encoding is not forwarded): no await for the rest.
  const answer = response.headers["content-encoding"] === undefined ? jsonAnswer(response, body) : await decodedAnswer(response, body);
  const observation = answer.json === undefined ? emptyObservation() : relay.api.observeResponse(answer.json, answer.text);
  if (!delivered) return { observation, failure: upstreamFailure("client_disconnected", "client disconnected"), status: response.statusCode };
  if (answer.json === undefined) return { observation, failure: upstreamFailure("upstream_error", answer.problem), status: response.statusCode };
  // A 200 can still carry a failure (a Responses answer with status "failed").
  const failure = observation.upstreamError === undefined ? undefined : upstreamFailure("upstream_error", observation.upstreamError);
  return { observation, failure, status: response.statusCode };
}

/** A compressed answer is decoded up to this size to be read (the client gets it as sent). */
const MAX_DECODED_ANSWER_BYTES = 64 * 1024 * 1024;

type Answer = { json: object; text: string } | { json: undefined; problem: string };

/**
 * The JSON object of a blocking success, for the record; or why there is none — an HTML page
 * from a proxy in front of the provider, say. Such an answer still goes to the client as it
 * came, but is recorded as an upstream error: its usage and tool calls are unknown, not zero.
 */
function jsonAnswer(response: UpstreamResponse, body: Buffer): Answer {
  const text = body.toString("utf8");
  const json = tryParseJson(text);
  if (typeof json === "object" && json !== null && !Array.isArray(json)) return { json, text };
  const type = response.headers["content-type"];
  return { json: undefined, problem: `the provider answered ${response.statusCode} with a body that is not a JSON object${type === undefined ? "" : ` (${String(type)})`}: no usage or tool calls recorded` };
}

/** As jsonAnswer, for a provider that compresses although it was not asked to: decoded first. */
async function decodedAnswer(response: UpstreamResponse, body: Buffer): Promise<Answer> {
  const coding = response.headers["content-encoding"];
  try {
    return jsonAnswer(response, await decodeRequestBody(body, coding, MAX_DECODED_ANSWER_BYTES));
  } catch (err) {
    // decodeRequestBody speaks of a request body: its detail alone fits an answer.
    const why = isRequestBodyTooLargeError(err) ? `it decodes to more than ${MAX_DECODED_ANSWER_BYTES} bytes` : ((err as { detail?: string }).detail ?? errorMessage(err));
    return { json: undefined, problem: `the provider's answer (Content-Encoding: ${String(coding)}) could not be decoded to be recorded: ${why}` };
  }
}

/**
 * SSE: each event is forwarded the moment it is complete (never buffered beyond that) and
 * inspected on the way. Headers go out with the first event, so an upstream that fails before
 * sending anything still gets a provider-shaped JSON error. A stream that breaks after that
 * ends with the API's own error event — never a fake clean end.
 */
async function relayStream(
  relay: Relay,
  response: UpstreamResponse,
  headers: OutgoingHttpHeaders,
  clientEvent: ParsedRequest["clientEvent"],
  maxEventChars: number,
): Promise<ProxyResult> {
  const { ctx, api, deadline } = relay;
  const { res } = ctx;
  const parser = new SseParser();
  const observer = api.createStreamObserver();
  const status = response.statusCode;
  let started = false;
  const start = (): void => {
    if (started || res.headersSent) return;
    started = true;
    headers["content-type"] = String(response.headers["content-type"] ?? "text/event-stream");
    headers["cache-control"] = "no-cache";
    headers["x-accel-buffering"] = "no";
    res.writeHead(status, headers);
  };
  // Events go out first and are inspected after: the client never waits for the bookkeeping.
  const forward = (events: readonly SseEvent[]): boolean | Promise<boolean> => {
    if (events.length === 0) return true;
    start();
    let text: string;
    if (clientEvent !== undefined) text = events.length === 1 ? clientEvent(events[0]!) : events.map(clientEvent).join("");
    else text = events.length === 1 ? (events[0]?.raw ?? "") : events.map((e) => e.raw).join("");
    return text === "" ? true : writeChunk(res, text, deadline.cancellation);
  };

  let failure: Failure | undefined;
  // The client left before the provider's stream was over: the rest of it is not read.
  let clientLeft = false;
  try {
    for await (const chunk of response.body) {
      deadline.touch();
      const events = parser.push(chunk as Buffer);
      const written = forward(events);
      if (written !== true && (written === false || !(await deadline.waitForClient(written)))) {
        // Gone: judged by what it had before these events (still recorded: usage). Given up on
        // after reading nothing for a whole upstream timeout: it may not have read the end it
        // was sent, whatever that was.
        const delivered = res.destroyed ? observer.result() : undefined;
        for (const event of events) observer.onEvent(event);
        failure = delivered !== undefined ? endedByClient(delivered, upstreamFailure("client_disconnected", "client disconnected")) : upstreamFailure("client_disconnected", "client stopped reading");
        clientLeft = true;
        if (!res.destroyed) res.destroy();
        break;
      }
      for (const event of events) observer.onEvent(event);
      if (parser.pendingLength > maxEventChars) {
        // SECURITY: an event is held until complete; one that never ends must not exhaust memory.
        response.body.destroy();
        failure = upstreamFailure("upstream_disconnected", `upstream event longer than ${maxEventChars} characters`, "upstream event too large");
        break;
      }
    }
    if (failure === undefined) {
      const { events, leftover } = parser.end();
      const written = forward(events);
      for (const event of events) observer.onEvent(event);
      const observed = observer.result();
      if (written !== true && written !== false && !(await deadline.waitForClient(written)) && !res.destroyed) {
        failure = upstreamFailure("client_disconnected", "client stopped reading");
        res.destroy();
      } else if (observed.upstreamError !== undefined) {
        failure = upstreamFailure("upstream_error", observed.upstreamError);
      } else if (!observed.complete) {
        failure = upstreamFailure(
          "upstream_disconnected",
          leftover === "" ? "upstream stream ended before the response completed" : "upstream stream ended in the middle of an event",
        );
      }
    }
  } catch (err) {
    failure = deadline.failure(err);
    // Every event observed had been written: the client left between two of the provider's chunks.
    if (failure.type === "client_disconnected") {
      failure = endedByClient(observer.result(), failure);
      clientLeft = true;
    }
  }

  if (clientLeft) {
    response.body.destroy();
    return { observation: observer.result(), failure, status };
  }
  if (failure !== undefined && failure.type !== "upstream_error") {
    if (!started) return { observation: observer.result(), failure, status: answerFailure(relay, failure) };
    // Headers and some events went out: end with the API's own terminal error event.
    if (!res.destroyed) res.end(observer.errorEvent(failure.clientMessage));
    return { observation: observer.result(), failure, status };
  }
  start();
  if (!res.destroyed) res.end();
  return { observation: observer.result(), failure, status };
}

/**
 * How a stream the client left ended, given what had reached it: an SDK closes the connection
 * once it has the terminal event (or an error event), often before the provider's body ends.
 * After the provider's own end the answer was whole; after its error event the provider failed
 * it; before either, the client did.
 */
function endedByClient(delivered: Observation, left: Failure): Failure | undefined {
  if (delivered.upstreamError !== undefined) return upstreamFailure("upstream_error", delivered.upstreamError);
  return delivered.complete ? undefined : left;
}

function finish(
  deps: ExchangeDeps,
  route: BridgedRoute,
  parsed: ParsedRequest,
  id: string,
  /** The hint of the key tried first (BYOK: the client's). */
  credentialHint: string,
  /** After a failover: the hint of the central key that answered. */
  answeredHint: string | undefined,
  startedAtMs: number,
  result: ProxyResult,
  log: RequestLog,
): void {
  const { metrics, records } = deps;
  const at = deps.options.clock.now();
  const { observation, failure } = result;
  const model = metrics.modelLabels.of(parsed.model);
  const provider = route.provider;
  if (parsed.prompt !== undefined) {
    records.enqueue(promptRecord(id, observation.responseId, parsed.prompt, at));
  }
  const usage = observation.usage;
  if (usage !== undefined) {
    records.enqueue(tokenUsageRecord(id, observation.responseId, usage, at));
  }
  for (const call of observation.toolCalls) {
    records.enqueue(toolUsageRecord(id, observation.responseId, call, at));
    metrics.toolCallsTotal.inc({ provider, model, name: metrics.toolLabels.of(provider, model, call.name) });
  }
  for (const thought of observation.thoughts) records.enqueue(thoughtRecord(id, thought, at));
  // Last, so the queue delivers it after this interception's other records.
  records.enqueue(endedRecord(id, answeredHint ?? credentialHint, at, failure));

  metrics.interceptionTally.finished({ provider, route: route.route, model, prompt: parsed.prompt !== undefined, usage, failed: failure !== undefined });
  metrics.interceptionDuration.observe({ provider, model }, Math.max(0, at - startedAtMs) / 1000);
  const fields = {
    status: result.status,
    duration_ms: at - startedAtMs,
    response_id: observation.responseId,
    input_tokens: usage?.input,
    output_tokens: usage?.output,
    cache_read_tokens: usage?.cacheRead,
    cache_write_tokens: usage?.cacheWrite,
    tool_calls: observation.toolCalls.length,
    // The log's credential_hint names the key tried first; after a failover, the one that answered.
    ...(answeredHint !== undefined ? { answered_credential_hint: answeredHint } : {}),
  };
  if (failure === undefined) {
    log.info(fields, "interception ended");
    return;
  }
  metrics.interceptionErrorsTotal.inc({ provider, error_type: failure.type });
  const errFields = { ...fields, error_type: failure.type, error_message: failure.message.slice(0, 1000) };
  if (failure.type === "upstream_error" || failure.type === "client_disconnected") log.info(errFields, "interception ended with an error");
  else log.warn(errFields, "interception ended with an error");
}
