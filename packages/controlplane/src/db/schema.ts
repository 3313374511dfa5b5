// Typed view of the database for kysely. Row types stay inside the control plane: RPC and HTTP
// responses are built by named mapping functions, never by returning rows.
import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

/** A timestamp column written by the database (DEFAULT now()). */
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
/** int8 comes back from pg as a string; we write numbers or bigints. */
type Int8 = ColumnType<string, number | bigint | string, number | bigint | string>;
type Json = ColumnType<unknown, string, string>;

export type UserRole = "owner" | "member";
export type UserStatus = "active" | "suspended";

export interface UsersTable {
  id: Generated<string>;
  username: string;
  email: string | null;
  role: ColumnType<UserRole, UserRole | undefined, UserRole>;
  status: ColumnType<UserStatus, UserStatus | undefined, UserStatus>;
  is_system: Generated<boolean>;
  deleted: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

export interface ApiKeysTable {
  id: string;
  hashed_secret: Buffer;
  user_id: string;
  name: Generated<string>;
  created_at: CreatedAt;
  expires_at: Date | null;
}

export interface AiGatewayKeysTable {
  id: Generated<string>;
  created_at: CreatedAt;
  name: string;
  secret_prefix: string;
  hashed_secret: Buffer;
  last_used_at: ColumnType<Date | null, never, Date>;
  allow_delegation: Generated<boolean>;
}

export interface AibridgeInterceptionsTable {
  id: string;
  initiator_id: string;
  api_key_id: string;
  provider: string;
  provider_name: string;
  model: string;
  metadata: Json;
  started_at: Date;
  ended_at: ColumnType<Date | null, never, Date>;
  client: string;
  client_session_id: string | null;
  correlating_tool_call_id: string | null;
  thread_parent_id: string | null;
  thread_root_id: string | null;
  credential_kind: string;
  credential_hint: string;
  agent_firewall_session_id: string | null;
  agent_firewall_sequence_number: number | null;
  error_type: ColumnType<string | null, never, string | null>;
  error_message: ColumnType<string | null, never, string | null>;
}

export interface AibridgeTokenUsagesTable {
  id: Generated<string>;
  interception_id: string;
  provider_response_id: string;
  input_tokens: Int8;
  output_tokens: Int8;
  cache_read_input_tokens: Int8;
  cache_write_input_tokens: Int8;
  metadata: Json;
  created_at: Date;
}

export interface AibridgeUserPromptsTable {
  id: Generated<string>;
  interception_id: string;
  provider_response_id: string;
  prompt: string;
  metadata: Json;
  created_at: Date;
}

export interface AibridgeToolUsagesTable {
  id: Generated<string>;
  interception_id: string;
  provider_response_id: string;
  provider_tool_call_id: string;
  provider_item_id: string;
  server_url: string | null;
  tool: string;
  input: string;
  injected: boolean;
  invocation_error: string | null;
  metadata: Json;
  created_at: Date;
}

export interface AibridgeModelThoughtsTable {
  id: Generated<string>;
  interception_id: string;
  content: string;
  metadata: Json;
  created_at: Date;
}

export interface McpServerConfigsTable {
  id: string;
  url: string;
  tool_allow_regex: Generated<string>;
  tool_deny_regex: Generated<string>;
  created_at: CreatedAt;
}

export interface ExternalAuthLinksTable {
  user_id: string;
  mcp_server_config_id: string;
  oauth_access_token: string;
  oauth_expiry: Date | null;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}

export type AuditAction = "create" | "write" | "delete";

export interface AuditLogsTable {
  id: Generated<string>;
  time: CreatedAt;
  user_id: string | null;
  action: AuditAction;
  resource_type: string;
  resource_id: string;
  resource_target: string;
  status_code: number;
  diff: Json;
}

export interface Database {
  users: UsersTable;
  api_keys: ApiKeysTable;
  ai_gateway_keys: AiGatewayKeysTable;
  aibridge_interceptions: AibridgeInterceptionsTable;
  aibridge_token_usages: AibridgeTokenUsagesTable;
  aibridge_user_prompts: AibridgeUserPromptsTable;
  aibridge_tool_usages: AibridgeToolUsagesTable;
  aibridge_model_thoughts: AibridgeModelThoughtsTable;
  mcp_server_configs: McpServerConfigsTable;
  external_auth_links: ExternalAuthLinksTable;
  audit_logs: AuditLogsTable;
}

export type UserRow = Selectable<UsersTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type AiGatewayKeyRow = Selectable<AiGatewayKeysTable>;
export type NewAiGatewayKey = Insertable<AiGatewayKeysTable>;
export type InterceptionRow = Selectable<AibridgeInterceptionsTable>;
export type TokenUsageRow = Selectable<AibridgeTokenUsagesTable>;
export type UserPromptRow = Selectable<AibridgeUserPromptsTable>;
export type ToolUsageRow = Selectable<AibridgeToolUsagesTable>;
export type ModelThoughtRow = Selectable<AibridgeModelThoughtsTable>;
export type McpServerConfigRow = Selectable<McpServerConfigsTable>;
export type ExternalAuthLinkRow = Selectable<ExternalAuthLinksTable>;
export type AuditLogRow = Selectable<AuditLogsTable>;
