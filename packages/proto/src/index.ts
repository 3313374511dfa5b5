// Public surface of @weir/proto: the generated contract, the API version and its rules.

export {
  IsAuthorizedRequestSchema,
  IsAuthorizedResponseSchema,
  IsAuthorizedFailureSchema,
  WatchAuthorizationChangesRequestSchema,
  WatchAuthorizationChangesResponseSchema,
  AuthorizationResetSchema,
  ApiKeyChangeSchema,
  UserChangeSchema,
  GatewayKeyChangeSchema,
  Authorizer,
} from "./gen/weir/gateway/v1/authorizer_pb.js";
export type {
  IsAuthorizedRequest,
  IsAuthorizedResponse,
  IsAuthorizedFailure,
  WatchAuthorizationChangesRequest,
  WatchAuthorizationChangesResponse,
  AuthorizationReset,
  ApiKeyChange,
  UserChange,
  GatewayKeyChange,
} from "./gen/weir/gateway/v1/authorizer_pb.js";
export { GetMCPServerConfigsRequestSchema, GetMCPServerConfigsResponseSchema, MCPServerConfigSchema, GetMCPServerAccessTokensBatchRequestSchema, GetMCPServerAccessTokensBatchResponseSchema, MCPConfigurator } from "./gen/weir/gateway/v1/mcp_configurator_pb.js";
export type { GetMCPServerConfigsRequest, GetMCPServerConfigsResponse, MCPServerConfig, GetMCPServerAccessTokensBatchRequest, GetMCPServerAccessTokensBatchResponse } from "./gen/weir/gateway/v1/mcp_configurator_pb.js";
export { RecordInterceptionRequestSchema, RecordInterceptionResponseSchema, RecordInterceptionEndedRequestSchema, RecordInterceptionEndedResponseSchema, RecordTokenUsageRequestSchema, RecordTokenUsageResponseSchema, RecordPromptUsageRequestSchema, RecordPromptUsageResponseSchema, RecordToolUsageRequestSchema, RecordToolUsageResponseSchema, RecordModelThoughtRequestSchema, RecordModelThoughtResponseSchema, RecordBatchRequestSchema, RecordEnvelopeSchema, RecordBatchResponseSchema, RejectedRecordSchema, Recorder } from "./gen/weir/gateway/v1/recorder_pb.js";
export type { RecordInterceptionRequest, RecordInterceptionResponse, RecordInterceptionEndedRequest, RecordInterceptionEndedResponse, RecordTokenUsageRequest, RecordTokenUsageResponse, RecordPromptUsageRequest, RecordPromptUsageResponse, RecordToolUsageRequest, RecordToolUsageResponse, RecordModelThoughtRequest, RecordModelThoughtResponse, RecordBatchRequest, RecordEnvelope, RecordBatchResponse, RejectedRecord } from "./gen/weir/gateway/v1/recorder_pb.js";
export {
  API_MAJOR,
  API_MINOR,
  API_VERSION,
  API_VERSION_HISTORY,
  SUPPORTED_OLDER_MAJORS,
} from "./version.js";
export type { ApiVersionHistoryEntry } from "./version.js";
export {
  ApiVersionParseError,
  checkApiVersion,
  compareApiVersions,
  formatApiVersion,
  parseApiVersion,
} from "./api-version.js";
export type { ApiVersion, ApiVersionCheck, ApiVersionServer } from "./api-version.js";
export { API_VERSION_HEADER, GATEWAY_KEY_HEADER } from "./headers.js";
export { GATEWAY_KEY_LENGTH, GATEWAY_KEY_PREFIX_LENGTH, GATEWAY_KEY_TYPE_PREFIX, gatewayKeyPrefix, hasGatewayKeyShape } from "./gateway-key.js";
export { isUuid } from "./uuid.js";
export { METADATA_VALUE_TYPE_URL } from "./metadata.js";
export { CONTROL_PLANE_BUSY_MESSAGE } from "./rpc-messages.js";
