// Domain errors of the gateway and the ONE place that maps them to HTTP statuses
// (CONVENTIONS "Errors"). Anything not listed here becomes a 500 with a generic message; the
// cause is logged by the caller, never sent to the client.

/** No usable credential in X-AI-Governance-Token, Authorization: Bearer or X-Api-Key. */
export class NoCredentialError extends Error {
  override readonly name = "NoCredentialError";
  constructor() {
    super("no authentication key provided");
  }
}

/** The request is BYOK (X-AI-Governance-Token set) but the gateway does not allow BYOK. */
export class ByokNotAllowedError extends Error {
  override readonly name = "ByokNotAllowedError";
  constructor() {
    super("Bring Your Own Key (BYOK) mode is not enabled.");
  }
}

/** The path is neither a bridged nor a passthrough route. */
export class RouteNotSupportedError extends Error {
  override readonly name = "RouteNotSupportedError";
  constructor(
    readonly method: string,
    readonly path: string,
  ) {
    super(`route not supported: ${method} ${path}`);
  }
}

/** The control plane could not be reached (refused, Unavailable, timeout) or refused the gateway itself. */
export class ControlPlaneUnavailableError extends Error {
  override readonly name = "ControlPlaneUnavailableError";
  constructor(options?: { cause?: unknown }) {
    super("could not connect to the control plane", options);
  }
}

/** The control plane answered with an unexpected failure (e.g. Internal) that is not a refusal. */
export class ControlPlaneError extends Error {
  override readonly name = "ControlPlaneError";
  constructor(operation: string, options?: { cause?: unknown }) {
    super(operation, options);
  }
}

/** IsAuthorized refused the user's key; `reason` is the IsAuthorizedFailure reason (or a code name). */
export class UnauthorizedError extends Error {
  override readonly name = "UnauthorizedError";
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`unauthorized: ${reason}`, options);
  }
}

/** IsAuthorized answered with an owner id that is not a UUID. */
export class InvalidOwnerIdError extends Error {
  override readonly name = "InvalidOwnerIdError";
  constructor() {
    super("authorized owner id is not a UUID");
  }
}

/** The per-user request handler could not be built or taken from the pool. */
export class HandlerAcquireError extends Error {
  override readonly name = "HandlerAcquireError";
  constructor(options?: { cause?: unknown }) {
    super("failed to acquire request handler", options);
  }
}

/** The pool was shut down; no handlers are handed out any more. */
export class PoolShuttingDownError extends Error {
  override readonly name = "PoolShuttingDownError";
  constructor() {
    super("pool shutting down");
  }
}

/** As many LLM requests are in flight as --max-concurrency allows (reference: 503 at capacity). */
export class AtCapacityError extends Error {
  override readonly name = "AtCapacityError";
  constructor(readonly maxConcurrency: number) {
    super("AI Gateway is currently at capacity. Please try again later.");
  }
}

/** The credential made more requests this second than --rate-limit allows (reference: 429). */
export class RateLimitedError extends Error {
  override readonly name = "RateLimitedError";
  constructor(
    readonly limit: number,
    readonly retryAfterSeconds: number,
  ) {
    super("rate limit exceeded");
  }
}

/** The gateway is draining and refuses new requests. */
export class GatewayShuttingDownError extends Error {
  override readonly name = "GatewayShuttingDownError";
  constructor() {
    super("gateway is shutting down");
  }
}

/** A bridged route's body is not a JSON object (or not the encoding its Content-Encoding names). */
export class InvalidRequestBodyError extends Error {
  override readonly name = "InvalidRequestBodyError";
  constructor(readonly detail: string) {
    super(`invalid request body: ${detail}`);
  }
}

/**
 * A valid request asking for what the gateway cannot govern (501, as the reference answers):
 * a Responses request with `background: true` and no stream runs and bills at the provider
 * while its answer, and so its usage, is fetched later on a route that records nothing.
 */
export class UnsupportedRequestError extends Error {
  override readonly name = "UnsupportedRequestError";
  constructor(
    message: string,
    readonly detail: string,
  ) {
    super(message);
  }
}

/** The request body exceeds the configured limit. */
export class RequestBodyTooLargeError extends Error {
  override readonly name = "RequestBodyTooLargeError";
  constructor(readonly limitBytes: number) {
    super(`request body larger than ${limitBytes} bytes`);
  }
}

/** The body's Content-Encoding names a coding the gateway cannot undo (RFC 9110: 415). */
export class UnsupportedContentEncodingError extends Error {
  override readonly name = "UnsupportedContentEncodingError";
  constructor(readonly detail: string) {
    super(`unsupported content encoding: ${detail}`);
  }
}

/** The synchronous RecordInterception call failed; the request must not be proxied. */
export class RecordInterceptionError extends Error {
  override readonly name = "RecordInterceptionError";
  constructor(options?: { cause?: unknown }) {
    super("failed to record interception", options);
  }
}

/**
 * The gateway cannot serve: the control plane rejected it at start-up (bad gateway key,
 * incompatible API version, a TLS failure), or its record spool directory cannot be used.
 * `message` is one line naming the reason; the process should exit non-zero.
 */
export class FatalStartupError extends Error {
  override readonly name = "FatalStartupError";
  constructor(
    message: string,
    readonly kind: "gateway_key" | "api_version" | "tls" | "record_spool",
    options?: { cause?: unknown },
  ) {
    super(message.replace(/\s*[\r\n]+\s*/g, " "), options);
  }
}

/** A new gateway key that was not put in use (the previous one still is); the message says why in one line. */
export class GatewayKeyNotReplacedError extends Error {
  override readonly name = "GatewayKeyNotReplacedError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message.replace(/\s*[\r\n]+\s*/g, " "), options);
  }
}

/**
 * An in-process gateway request (inProcessFetch / inProcessDispatcher) carried no delegated API
 * key id. Thrown to the in-process caller before the request reaches the gateway's handler.
 */
export class DelegatedApiKeyIdRequiredError extends Error {
  override readonly name = "DelegatedApiKeyIdRequiredError";
  constructor() {
    super("in-process gateway request requires a delegated API key id");
  }
}

/** An in-process request was made after the gateway shut down. */
export class InProcessGatewayClosedError extends Error {
  override readonly name = "InProcessGatewayClosedError";
  constructor() {
    super("the gateway is shut down: no more in-process requests");
  }
}

export const isAtCapacityError = (err: unknown): err is AtCapacityError => err instanceof AtCapacityError;
export const isRateLimitedError = (err: unknown): err is RateLimitedError => err instanceof RateLimitedError;
export const isNoCredentialError = (err: unknown): err is NoCredentialError => err instanceof NoCredentialError;
export const isByokNotAllowedError = (err: unknown): err is ByokNotAllowedError => err instanceof ByokNotAllowedError;
export const isRouteNotSupportedError = (err: unknown): err is RouteNotSupportedError =>
  err instanceof RouteNotSupportedError;
export const isControlPlaneUnavailableError = (err: unknown): err is ControlPlaneUnavailableError =>
  err instanceof ControlPlaneUnavailableError;
export const isControlPlaneError = (err: unknown): err is ControlPlaneError => err instanceof ControlPlaneError;
export const isUnauthorizedError = (err: unknown): err is UnauthorizedError => err instanceof UnauthorizedError;
export const isInvalidOwnerIdError = (err: unknown): err is InvalidOwnerIdError => err instanceof InvalidOwnerIdError;
export const isHandlerAcquireError = (err: unknown): err is HandlerAcquireError => err instanceof HandlerAcquireError;
export const isPoolShuttingDownError = (err: unknown): err is PoolShuttingDownError =>
  err instanceof PoolShuttingDownError;
export const isGatewayShuttingDownError = (err: unknown): err is GatewayShuttingDownError =>
  err instanceof GatewayShuttingDownError;
export const isInvalidRequestBodyError = (err: unknown): err is InvalidRequestBodyError =>
  err instanceof InvalidRequestBodyError;
export const isUnsupportedRequestError = (err: unknown): err is UnsupportedRequestError => err instanceof UnsupportedRequestError;
export const isRequestBodyTooLargeError = (err: unknown): err is RequestBodyTooLargeError =>
  err instanceof RequestBodyTooLargeError;
export const isUnsupportedContentEncodingError = (err: unknown): err is UnsupportedContentEncodingError =>
  err instanceof UnsupportedContentEncodingError;
export const isRecordInterceptionError = (err: unknown): err is RecordInterceptionError =>
  err instanceof RecordInterceptionError;
export const isFatalStartupError = (err: unknown): err is FatalStartupError => err instanceof FatalStartupError;
export const isInProcessGatewayClosedError = (err: unknown): err is InProcessGatewayClosedError =>
  err instanceof InProcessGatewayClosedError;
export const isDelegatedApiKeyIdRequiredError = (err: unknown): err is DelegatedApiKeyIdRequiredError =>
  err instanceof DelegatedApiKeyIdRequiredError;

/** What a gateway-originated error looks like on the wire: JSON `{message, detail?}`. */
export interface HttpErrorResponse {
  readonly status: number;
  readonly message: string;
  readonly detail?: string;
  /** Response headers the status calls for (Retry-After on 429, X-Should-Retry on 501). */
  readonly headers?: Readonly<Record<string, string>>;
}

const INTERNAL: HttpErrorResponse = Object.freeze({ status: 500, message: "internal server error" });

/** Maps any error to the status and body the client sees. The single mapping point. */
export function toHttpError(err: unknown): HttpErrorResponse {
  if (isNoCredentialError(err)) return { status: 400, message: err.message };
  if (isInvalidRequestBodyError(err)) return { status: 400, message: "invalid request body", detail: err.detail };
  if (isByokNotAllowedError(err)) {
    return {
      status: 403,
      message: err.message,
      detail: "Contact your administrator to enable it with --allow-byok.",
    };
  }
  // SECURITY: the reason (which key check failed) is logged, never sent: the client only learns "unauthorized".
  if (isUnauthorizedError(err) || isInvalidOwnerIdError(err)) return { status: 403, message: "unauthorized" };
  if (isRouteNotSupportedError(err)) return { status: 404, message: err.message };
  if (isRequestBodyTooLargeError(err)) {
    return { status: 413, message: "request body too large", detail: `The limit is ${err.limitBytes} bytes.` };
  }
  if (isUnsupportedContentEncodingError(err)) return { status: 415, message: "unsupported content encoding", detail: err.detail };
  // The official SDKs retry any 5xx unless told not to: asking again cannot help.
  if (isUnsupportedRequestError(err)) return { status: 501, message: err.message, detail: err.detail, headers: { "x-should-retry": "false" } };
  if (isRecordInterceptionError(err)) return { status: 500, message: err.message };
  if (isHandlerAcquireError(err)) return { status: 500, message: err.message };
  if (isRateLimitedError(err)) {
    return {
      status: 429,
      message: err.message,
      detail: `At most ${err.limit} requests per second per API key; retry after ${err.retryAfterSeconds} s.`,
      headers: { "retry-after": String(err.retryAfterSeconds) },
    };
  }
  if (isAtCapacityError(err)) return { status: 503, message: err.message };
  if (isControlPlaneUnavailableError(err)) return { status: 503, message: err.message };
  if (isGatewayShuttingDownError(err) || isPoolShuttingDownError(err)) {
    return { status: 503, message: "gateway is shutting down" };
  }
  return INTERNAL;
}

// Abort reasons. They travel as AbortSignal reasons, never to a client, so they are not mapped.

/** The client closed its connection before the response was complete. */
export class ClientDisconnectedError extends Error {
  override readonly name = "ClientDisconnectedError";
  constructor() {
    super("client disconnected");
  }
}

/** The shutdown deadline passed while the request was still running. */
export class ShutdownAbortError extends Error {
  override readonly name = "ShutdownAbortError";
  constructor() {
    super("gateway shut down before the response completed");
  }
}

/** The upstream request outlived upstreamTimeoutMs. */
export class UpstreamTimeoutError extends Error {
  override readonly name = "UpstreamTimeoutError";
  constructor(readonly timeoutMs: number) {
    super(`upstream request timed out after ${timeoutMs} ms`);
  }
}

export const isClientDisconnectedError = (err: unknown): err is ClientDisconnectedError =>
  err instanceof ClientDisconnectedError;
export const isShutdownAbortError = (err: unknown): err is ShutdownAbortError => err instanceof ShutdownAbortError;
export const isUpstreamTimeoutError = (err: unknown): err is UpstreamTimeoutError => err instanceof UpstreamTimeoutError;
