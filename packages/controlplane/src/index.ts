// Public surface of @weir/controlplane.
export { DEFAULT_EMBEDDED_DATA_DIR, createKysely, openDatabase } from "./db/database.js";
export { makeDirectory } from "./db/make-directory.js";
export type { DatabaseOptions, OpenDatabase } from "./db/database.js";
export { DatabasePasswordFileError, isDatabasePasswordFileError, passwordFromFile } from "./db/password-file.js";
export { DatabaseTlsError, isDatabaseTlsError } from "./db/database-tls.js";
export type { PasswordSource } from "./db/password-file.js";
export { EmbeddedPostgresInUseError, EmbeddedPostgresRootError, freeLoopbackPort, startEmbeddedPostgres } from "./db/embedded-postgres.js";
export type { EmbeddedPostgres, EmbeddedPostgresOptions } from "./db/embedded-postgres.js";
export { latestAppliedMigration, migrateDown, migrateToLatest } from "./db/migrate.js";
export type { MigrateDownOptions } from "./db/migrate.js";
export { RevertRefusedError, isRevertRefusedError } from "./db/running-control-plane-lock.js";
export type { RevertRefusedReason } from "./db/running-control-plane-lock.js";
export { MIGRATIONS } from "./db/migrations/index.js";
export { SYSTEM_USER_ID } from "./db/migrations/2026_11_22_000000_initial.js";
export { AUTHORIZATION_CHANGES_CHANNEL } from "./db/migrations/2026_12_01_000000_authorization_notify.js";
export { NotificationListener } from "./db/notification-listener.js";
export type { NotificationListenerOptions } from "./db/notification-listener.js";
export { writeRecordBatch } from "./db/repositories/record-batch-repository.js";
export type { BatchRecord, BatchRecordKind, BatchWriteOutcome, RejectedBatchRecord } from "./db/repositories/record-batch-repository.js";
export type { Database } from "./db/schema.js";
// --- RPC services, RPC server and the control-plane daemon ---
export { systemClock } from "./clock.js";
export type { Clock } from "./clock.js";
export { systemTimers } from "./timers.js";
export type { Timers } from "./timers.js";
export { AuthorizationChangeHub, DEFAULT_LISTEN_GRACE_MS } from "./auth/authorization-change-hub.js";
export type { AuthorizationChange, AuthorizationChangeHubOptions, AuthorizationChangeSubscription } from "./auth/authorization-change-hub.js";
export { CONTROL_PLANE_DEFAULTS, ControlPlane, createControlPlane } from "./control-plane.js";
export type { ControlPlaneOptions, ListenAddress, ResolvedControlPlaneOptions, TlsFiles } from "./control-plane.js";
export { InvalidMountError } from "./server/mounts.js";
export type { MountedHandler } from "./server/mounts.js";
export type { HttpRequest, HttpResponse } from "./server/connection-tracker.js";
export { oneLineError } from "./one-line-error.js";
export {
  AlreadyExistsError,
  AmbiguousCredentialError,
  AuthorizationChangesUnavailableError,
  DelegationNotAllowedError,
  GATEWAY_KEY_MESSAGES,
  GatewayKeyLookupError,
  GatewayKeyRefusedError,
  IncompatibleApiVersionError,
  InvalidArgumentError,
  NotFoundError,
} from "./errors.js";
export { ControlPlaneMetrics, METRICS_PREFIX } from "./metrics.js";
export type { ControlPlaneMetricsOptions, RecordType } from "./metrics.js";
export { AUTHORIZATION_FAILURE_CODES, INTERNAL_ERROR_MESSAGE, mapServiceErrors, toConnectError } from "./rpc/connect-errors.js";
export type { AuthorizationFailureReason } from "./rpc/connect-errors.js";
export { createGatewayAuthInterceptor } from "./rpc/gateway-auth-interceptor.js";
export type { GatewayAuthInterceptorOptions } from "./rpc/gateway-auth-interceptor.js";
export { DEFAULT_GATEWAY_KEY_USAGE_INTERVAL_MS, GatewayKeyUsageTracker } from "./rpc/gateway-key-usage.js";
export type { GatewayKeyUsageOptions } from "./rpc/gateway-key-usage.js";
export { createInProcessTransport } from "./rpc/in-process-transport.js";
export { GATEWAY_KEY_CONTEXT, IN_PROCESS_CONTEXT } from "./rpc/rpc-context.js";
export type { AuthenticatedGatewayKey } from "./rpc/rpc-context.js";
export { createRpcMetricsInterceptor } from "./rpc/rpc-metrics-interceptor.js";
export { AuthorizerService, watchMessageFromChange } from "./services/authorizer.js";
export { MCP_TOKEN_ERRORS, MCPConfiguratorService } from "./services/mcp-configurator.js";
export { RecorderService, USER_AGENT_METADATA_KEY } from "./services/recorder.js";
export { MAX_BATCH_RECORDS, batchRecordFromEnvelope } from "./services/record-batch.js";
export { registerServices } from "./services/register-services.js";
export type { ServiceDeps } from "./services/service-deps.js";
// --- end RPC services block ---
// --- admin HTTP API ---
export { ADMIN_API_PATH_PREFIX, createAdminApi } from "./admin/admin-api.js";
export type { AdminApi, AdminApiDeps } from "./admin/admin-api.js";
export { ADMIN_REQUESTS_METRIC } from "./admin/metrics.js";
export {
  OwnerAlreadyExistsError,
  OwnerKeyRecoveryRefusedError,
  bootstrapOwner,
  isOwnerAlreadyExistsError,
  isOwnerKeyRecoveryRefusedError,
  recoverOwnerKey,
} from "./admin/bootstrap.js";
export type { BootstrapOwnerOptions, BootstrappedOwner, RecoverOwnerKeyOptions, RecoveredOwnerKey } from "./admin/bootstrap.js";
export { REDACTED, redactKeys } from "./keys/redact.js";
export { InvalidRequestError, UNAUTHENTICATED_MESSAGE, isInvalidRequestError } from "./admin/errors.js";
export type { FieldValidation } from "./admin/errors.js";
// --- end admin HTTP API block ---
