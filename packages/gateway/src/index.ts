// Public surface of @weir/gateway. Test helpers live in the separate "@weir/gateway/testing" entry.

export { Gateway, createEmbeddedGateway, createGateway } from "./gateway.js";
export type { GatewayState } from "./gateway.js";
export {
  DEFAULT_GATEWAY_OPTIONS,
  InvalidGatewayOptionsError,
  MAX_AUTH_CACHE_NEGATIVE_TTL_MS,
  MAX_AUTH_CACHE_TTL_MS,
  MAX_START_BUDGET_MS,
  resolveGatewayOptions,
} from "./options.js";
export type { EmbeddedGatewayOptionsInput, GatewayOptions, GatewayOptionsInput, ProviderOptions, ResolvedUpstreamProxy } from "./options.js";
export { TlsFilesError, describeTlsFilesError, isTlsFilesError, loadTlsFiles } from "./tls-files.js";
export type { TlsFileNames, TlsFiles, TlsFilesProblem } from "./tls-files.js";
export { systemClock, sleep } from "./clock.js";
export type { Clock, TimerHandle } from "./clock.js";
export { Backoff, DEFAULT_BACKOFF, createBackoff } from "./backoff.js";
export type { BackoffOptions } from "./backoff.js";
export { MAX_RETRY_HINT_MS, MAX_UPSTREAM_RETRIES, UPSTREAM_RETRY_BACKOFF, isRetryableResponse, requestWithRetries, retryHintMs, retryReason } from "./upstream-retry.js";
export type { RetryNote, RetryingRequest, UpstreamRetrySettings } from "./upstream-retry.js";
export { UpstreamProxyError, noProxyMatcher, proxySettingsFromEnv, proxyUrl, redactedProxyUrl } from "./upstream-proxy.js";
export type { UpstreamProxySettings } from "./upstream-proxy.js";
export {
  ByokNotAllowedError,
  ClientDisconnectedError,
  ControlPlaneError,
  ControlPlaneUnavailableError,
  FatalStartupError,
  GatewayKeyNotReplacedError,
  GatewayShuttingDownError,
  HandlerAcquireError,
  InvalidOwnerIdError,
  InvalidRequestBodyError,
  NoCredentialError,
  PoolShuttingDownError,
  RecordInterceptionError,
  RequestBodyTooLargeError,
  RouteNotSupportedError,
  ShutdownAbortError,
  UnauthorizedError,
  UnsupportedContentEncodingError,
  UpstreamTimeoutError,
  isFatalStartupError,
  toHttpError,
} from "./errors.js";
export type { HttpErrorResponse } from "./errors.js";
export { ControlPlaneClient, createControlPlaneClient, speaksApi11 } from "./control-plane-client.js";
export type { AuthorizedUser, ControlPlaneClientOptions, RpcSupport, UserCredential } from "./control-plane-client.js";
export { AuthCache, DEFAULT_AUTH_CACHE_OPTIONS, createAuthCache, credentialDigest } from "./auth-cache.js";
export type { AuthCacheEvent, AuthCacheOptions, AuthorizationAnswer } from "./auth-cache.js";
export { AuthorizationWatch, DEFAULT_UNSUPPORTED_RETRY_MS } from "./authorization-watch.js";
export type { AuthorizationChange, AuthorizationWatchOptions, WatchSupport } from "./authorization-watch.js";
export {
  GOVERNANCE_HEADER_PREFIX,
  GOVERNANCE_REQUEST_ID_HEADER,
  GOVERNANCE_TOKEN_HEADER,
  SESSION_TOKEN_HEADER,
  bearerToken,
  extractAuthToken,
  isByokRequest,
  maskCredential,
} from "./credentials.js";
export type { CredentialSource, ExtractedCredential } from "./credentials.js";
export { gatewayKeyPrefix } from "@weir/proto";
export { HOP_BY_HOP_HEADERS, clientResponseHeaders, upstreamRequestHeaders } from "./headers.js";
export type { CredentialKind, UpstreamHeaderOptions } from "./headers.js";
export { ALIAS_PREFIX, PROVIDER_ALIAS_PREFIXES, PROVIDER_PREFIXES, resolveRoute, upstreamTarget } from "./routes.js";
export type { BridgedApi, BridgedRoute, PassthroughRoute, ProviderName, RouteMatch, UpstreamTarget } from "./routes.js";
export { SseParser } from "./sse-parser.js";
export type { SseEvent } from "./sse-parser.js";
export { CLIENTS, MAX_CLAUDE_USER_ID_CHARS, clientSessionBody, detectClient, detectClientSessionId } from "./client-detection.js";
export type { ClientSessionBody } from "./client-detection.js";
export { DEFAULT_POOL_OPTIONS, HandlerPool, createHandlerPool } from "./handler-pool.js";
export type { HandlerPoolOptions, PoolEvent, PoolStats } from "./handler-pool.js";
export { poolKey } from "./pool-key-index.js";
export type { PoolKeyIndexContents } from "./pool-key-index.js";
export { DEFAULT_RECORD_QUEUE_OPTIONS, RecordQueue, createRecordQueue } from "./record-queue.js";
export { CORRUPT_SUFFIX, MAX_SPOOL_FILE_BYTES, RecordSpool, SPOOL_FILE_SUFFIX, SPOOL_MAGIC, SpoolFileError, SpoolWriteError } from "./record-spool.js";
export type { SpoolWriteOptions } from "./record-spool.js";
export type { BatchLimits, DropReason, FailureClass, QueuedRecord, RecordKind, RecordQueueOptions, QueueSnapshot, ReplayOutcome, TakenBack } from "./record-queue.js";
export { decodeRecord, endedRecord, interceptionRecord, promptRecord, recordFromEnvelope, thoughtRecord, tokenUsageRecord, toolUsageRecord } from "./records.js";
export type { GatewayRecord, InterceptionErrorType, InterceptionStart } from "./records.js";
export { METRICS_PREFIX, createGatewayMetrics } from "./metrics.js";
export type { GatewayMetricSources, GatewayMetrics } from "./metrics.js";
export { HEALTH_PATH, METRICS_PATH, READY_PATH } from "./http-front.js";
// --- embedded mode and delegated in-process calls ---
export { DELEGATED_API_KEY_ID_HEADER } from "./delegation.js";
export { DelegatedApiKeyIdRequiredError, InProcessGatewayClosedError, isDelegatedApiKeyIdRequiredError, isInProcessGatewayClosedError } from "./errors.js";
export { IN_PROCESS_ORIGIN, inProcessPath } from "./in-process-client.js";
export type { InProcessClientOptions, InProcessFetch } from "./in-process-client.js";
// --- end embedded mode block ---
export { INTERCEPTION_ID_HEADER } from "./interception.js";
export { RequestHandler } from "./request-handler.js";
export { fromMetadata } from "./metadata.js";
export {
  PROVIDER_APIS,
  anthropicMessagesApi,
  anthropicTokenUsage,
  chatTokenUsage,
  mergeAnthropicUsage,
  openaiChatApi,
  openaiResponsesApi,
  responsesTokenUsage,
} from "./providers/index.js";
export type { Observation, ParsedRequest, ProviderApi, StreamObserver, Thought, TokenUsage, ToolCall } from "./providers/index.js";
