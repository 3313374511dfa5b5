// Row → response mapping: one named function per response type, so no row type (and no column
// that is not meant to leave, such as a hash) ever reaches a response by accident.
import type { ApiKeyRecord } from "../db/repositories/api-keys-repository.js";
import type { GatewayKeyRecord } from "../db/repositories/gateway-keys-repository.js";
import type { InterceptionPageRow } from "../db/repositories/interceptions-repository.js";
import type {
  McpServerConfigRow,
  ModelThoughtRow,
  TokenUsageRow,
  ToolUsageRow,
  UserPromptRow,
  UserRole,
  UserRow,
  UserStatus,
} from "../db/schema.js";

const iso = (d: Date) => d.toISOString();
const isoOrNull = (d: Date | null) => (d === null ? null : d.toISOString());

export interface UserResponse {
  readonly id: string;
  readonly username: string;
  readonly email: string | null;
  readonly role: UserRole;
  readonly status: UserStatus;
  readonly is_system: boolean;
  readonly created_at: string;
}

export function toUserResponse(row: UserRow): UserResponse {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    role: row.role,
    status: row.status,
    is_system: row.is_system,
    created_at: iso(row.created_at),
  };
}

/** A user API key as listed: never the key or its hash. */
export interface ApiKeyResponse {
  readonly id: string;
  readonly name: string;
  readonly created_at: string;
  readonly expires_at: string | null;
}

export function toApiKeyResponse(row: ApiKeyRecord): ApiKeyResponse {
  return { id: row.id, name: row.name, created_at: iso(row.created_at), expires_at: isoOrNull(row.expires_at) };
}

/** A user API key just created: the only response that carries the full key. */
export interface CreatedApiKeyResponse extends ApiKeyResponse {
  readonly key: string;
}

/** SECURITY: `key` is the plaintext; this response is its one and only appearance. */
export function toCreatedApiKeyResponse(row: ApiKeyRecord, key: string): CreatedApiKeyResponse {
  return { id: row.id, name: row.name, key, created_at: iso(row.created_at), expires_at: isoOrNull(row.expires_at) };
}

/** A gateway key as listed (reference §5): `last_used_at` omitted when null; never key or hash. */
export interface GatewayKeyResponse {
  readonly id: string;
  readonly name: string;
  readonly key_prefix: string;
  readonly created_at: string;
  readonly last_used_at?: string;
  readonly allow_delegation: boolean;
}

export function toGatewayKeyResponse(row: GatewayKeyRecord): GatewayKeyResponse {
  return {
    id: row.id,
    name: row.name,
    key_prefix: row.secret_prefix,
    created_at: iso(row.created_at),
    ...(row.last_used_at !== null ? { last_used_at: iso(row.last_used_at) } : {}),
    allow_delegation: row.allow_delegation,
  };
}

/** A gateway key just created (reference §5 201 body, plus allow_delegation). */
export interface CreatedGatewayKeyResponse {
  readonly id: string;
  readonly name: string;
  readonly key: string;
  readonly key_prefix: string;
  readonly created_at: string;
  readonly allow_delegation: boolean;
}

/** SECURITY: `key` is the plaintext; this response is its one and only appearance. */
export function toCreatedGatewayKeyResponse(row: GatewayKeyRecord, key: string): CreatedGatewayKeyResponse {
  return {
    id: row.id,
    name: row.name,
    key,
    key_prefix: row.secret_prefix,
    created_at: iso(row.created_at),
    allow_delegation: row.allow_delegation,
  };
}

export interface McpServerConfigResponse {
  readonly id: string;
  readonly url: string;
  readonly tool_allow_regex: string;
  readonly tool_deny_regex: string;
  readonly created_at: string;
}

export function toMcpServerConfigResponse(row: McpServerConfigRow): McpServerConfigResponse {
  return {
    id: row.id,
    url: row.url,
    tool_allow_regex: row.tool_allow_regex,
    tool_deny_regex: row.tool_deny_regex,
    created_at: iso(row.created_at),
  };
}

export interface PromptResponse {
  readonly id: string;
  readonly provider_response_id: string;
  readonly prompt: string;
  readonly metadata: unknown;
  readonly created_at: string;
}

export function toPromptResponse(row: UserPromptRow): PromptResponse {
  return {
    id: row.id,
    provider_response_id: row.provider_response_id,
    prompt: row.prompt,
    metadata: row.metadata,
    created_at: iso(row.created_at),
  };
}

export interface TokenUsageResponse {
  readonly id: string;
  readonly provider_response_id: string;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cache_read_input_tokens: number;
  readonly cache_write_input_tokens: number;
  readonly metadata: unknown;
  readonly created_at: string;
}

/** int8 counts arrive as strings; token counts stay far below 2^53, so numbers are exact. */
export function toTokenUsageResponse(row: TokenUsageRow): TokenUsageResponse {
  return {
    id: row.id,
    provider_response_id: row.provider_response_id,
    input_tokens: Number(row.input_tokens),
    output_tokens: Number(row.output_tokens),
    cache_read_input_tokens: Number(row.cache_read_input_tokens),
    cache_write_input_tokens: Number(row.cache_write_input_tokens),
    metadata: row.metadata,
    created_at: iso(row.created_at),
  };
}

export interface ToolUsageResponse {
  readonly id: string;
  readonly provider_response_id: string;
  readonly provider_tool_call_id: string;
  readonly provider_item_id: string;
  readonly server_url: string | null;
  readonly tool: string;
  readonly input: string;
  readonly injected: boolean;
  readonly invocation_error: string | null;
  readonly metadata: unknown;
  readonly created_at: string;
}

export function toToolUsageResponse(row: ToolUsageRow): ToolUsageResponse {
  return {
    id: row.id,
    provider_response_id: row.provider_response_id,
    provider_tool_call_id: row.provider_tool_call_id,
    provider_item_id: row.provider_item_id,
    server_url: row.server_url,
    tool: row.tool,
    input: row.input,
    injected: row.injected,
    invocation_error: row.invocation_error,
    metadata: row.metadata,
    created_at: iso(row.created_at),
  };
}

export interface ModelThoughtResponse {
  readonly id: string;
  readonly content: string;
  readonly metadata: unknown;
  readonly created_at: string;
}

export function toModelThoughtResponse(row: ModelThoughtRow): ModelThoughtResponse {
  return { id: row.id, content: row.content, metadata: row.metadata, created_at: iso(row.created_at) };
}

/** The child rows of one interception. */
export interface InterceptionChildRows {
  readonly prompts: readonly UserPromptRow[];
  readonly tokenUsages: readonly TokenUsageRow[];
  readonly toolUsages: readonly ToolUsageRow[];
  readonly modelThoughts: readonly ModelThoughtRow[];
}

/** An interception with its children; `ended_at` is null while it is still in flight. */
export interface InterceptionResponse {
  readonly id: string;
  readonly initiator_id: string;
  readonly api_key_id: string;
  readonly provider: string;
  readonly provider_name: string;
  readonly model: string;
  readonly client: string;
  readonly client_session_id: string | null;
  readonly credential_kind: string;
  readonly credential_hint: string;
  readonly metadata: unknown;
  readonly started_at: string;
  readonly ended_at: string | null;
  readonly error_type: string | null;
  readonly error_message: string | null;
  readonly thread_parent_id: string | null;
  readonly thread_root_id: string | null;
  readonly prompts: readonly PromptResponse[];
  readonly token_usages: readonly TokenUsageResponse[];
  readonly tool_usages: readonly ToolUsageResponse[];
  readonly model_thoughts: readonly ModelThoughtResponse[];
}

export function toInterceptionResponse(row: InterceptionPageRow, children: InterceptionChildRows): InterceptionResponse {
  return {
    id: row.id,
    initiator_id: row.initiator_id,
    api_key_id: row.api_key_id,
    provider: row.provider,
    provider_name: row.provider_name,
    model: row.model,
    client: row.client,
    client_session_id: row.client_session_id,
    credential_kind: row.credential_kind,
    credential_hint: row.credential_hint,
    metadata: row.metadata,
    // Exact (microseconds), as the list is ordered and its cursors are: a millisecond rendering
    // makes interceptions in one millisecond look simultaneous and a client's own paging skip them.
    started_at: row.started_at_exact,
    ended_at: isoOrNull(row.ended_at),
    error_type: row.error_type,
    error_message: row.error_message,
    thread_parent_id: row.thread_parent_id,
    thread_root_id: row.thread_root_id,
    prompts: children.prompts.map(toPromptResponse),
    token_usages: children.tokenUsages.map(toTokenUsageResponse),
    tool_usages: children.toolUsages.map(toToolUsageResponse),
    model_thoughts: children.modelThoughts.map(toModelThoughtResponse),
  };
}
