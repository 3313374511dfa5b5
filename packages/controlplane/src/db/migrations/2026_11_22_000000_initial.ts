// The initial schema (DESIGN §4). Names follow the reference; constraints follow the reference's
// ai_gateway_keys migration. Child records of an interception reference it with a foreign key so
// a record for an unknown interception is refused by the database in the same round trip.
import { sql, type Kysely } from "kysely";

/** The built-in system user; system users own internal work and can never authenticate. */
export const SYSTEM_USER_ID = "00000000-0000-0000-0000-000000000001";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE users (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      username text NOT NULL,
      email text,
      role text NOT NULL DEFAULT 'member',
      status text NOT NULL DEFAULT 'active',
      is_system boolean NOT NULL DEFAULT false,
      deleted boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT users_username_check CHECK (length(username) <= 32 AND username ~ '^[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*$'),
      CONSTRAINT users_role_check CHECK (role IN ('owner', 'member')),
      CONSTRAINT users_status_check CHECK (status IN ('active', 'suspended'))
    );
    CREATE UNIQUE INDEX users_username_idx ON users (lower(username)) WHERE NOT deleted;

    CREATE TABLE api_keys (
      id varchar(10) PRIMARY KEY,
      hashed_secret bytea NOT NULL,
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      name text NOT NULL DEFAULT '',
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz,
      CONSTRAINT api_keys_id_check CHECK (id ~ '^[0-9A-Za-z]{10}$'),
      CONSTRAINT api_keys_hashed_secret_check CHECK (length(hashed_secret) = 32)
    );
    CREATE INDEX api_keys_user_id_idx ON api_keys (user_id);

    CREATE TABLE ai_gateway_keys (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      created_at timestamptz NOT NULL DEFAULT now(),
      name text NOT NULL,
      secret_prefix varchar(11) NOT NULL,
      hashed_secret bytea NOT NULL,
      last_used_at timestamptz,
      allow_delegation boolean NOT NULL DEFAULT false,
      CONSTRAINT ai_gateway_keys_name_check CHECK (length(name) <= 64 AND name ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
      CONSTRAINT ai_gateway_keys_secret_prefix_check CHECK (length(secret_prefix) = 11),
      CONSTRAINT ai_gateway_keys_hashed_secret_check CHECK (length(hashed_secret) > 0)
    );
    CREATE UNIQUE INDEX ai_gateway_keys_name_idx ON ai_gateway_keys (lower(name));
    CREATE UNIQUE INDEX ai_gateway_keys_secret_prefix_idx ON ai_gateway_keys (secret_prefix);
    CREATE UNIQUE INDEX ai_gateway_keys_hashed_secret_idx ON ai_gateway_keys (hashed_secret);

    CREATE TABLE aibridge_interceptions (
      id uuid PRIMARY KEY,
      initiator_id uuid NOT NULL,
      api_key_id text NOT NULL,
      provider text NOT NULL,
      provider_name text NOT NULL,
      model text NOT NULL,
      metadata jsonb NOT NULL DEFAULT '{}',
      started_at timestamptz NOT NULL,
      ended_at timestamptz,
      client text NOT NULL DEFAULT '',
      client_session_id text,
      correlating_tool_call_id text,
      thread_parent_id uuid,
      thread_root_id uuid,
      credential_kind text NOT NULL DEFAULT 'centralized',
      credential_hint text NOT NULL DEFAULT '',
      agent_firewall_session_id uuid,
      agent_firewall_sequence_number integer,
      error_type text,
      error_message text,
      CONSTRAINT aibridge_interceptions_credential_kind_check CHECK (credential_kind IN ('centralized', 'byok')),
      CONSTRAINT aibridge_interceptions_error_type_check CHECK (
        error_type IN ('upstream_error', 'upstream_disconnected', 'client_disconnected', 'timeout', 'internal'))
    );
    CREATE INDEX aibridge_interceptions_initiator_started_idx ON aibridge_interceptions (initiator_id, started_at DESC, id DESC);
    CREATE INDEX aibridge_interceptions_started_idx ON aibridge_interceptions (started_at DESC, id DESC);

    CREATE TABLE aibridge_token_usages (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      interception_id uuid NOT NULL REFERENCES aibridge_interceptions (id) ON DELETE CASCADE,
      provider_response_id text NOT NULL,
      input_tokens bigint NOT NULL,
      output_tokens bigint NOT NULL,
      cache_read_input_tokens bigint NOT NULL DEFAULT 0,
      cache_write_input_tokens bigint NOT NULL DEFAULT 0,
      metadata jsonb NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL
    );
    CREATE INDEX aibridge_token_usages_interception_idx ON aibridge_token_usages (interception_id);

    CREATE TABLE aibridge_user_prompts (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      interception_id uuid NOT NULL REFERENCES aibridge_interceptions (id) ON DELETE CASCADE,
      provider_response_id text NOT NULL,
      prompt text NOT NULL,
      metadata jsonb NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL
    );
    CREATE INDEX aibridge_user_prompts_interception_idx ON aibridge_user_prompts (interception_id);

    CREATE TABLE aibridge_tool_usages (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      interception_id uuid NOT NULL REFERENCES aibridge_interceptions (id) ON DELETE CASCADE,
      provider_response_id text NOT NULL,
      provider_tool_call_id text NOT NULL DEFAULT '',
      provider_item_id text NOT NULL DEFAULT '',
      server_url text,
      tool text NOT NULL,
      input text NOT NULL,
      injected boolean NOT NULL DEFAULT false,
      invocation_error text,
      metadata jsonb NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL
    );
    CREATE INDEX aibridge_tool_usages_interception_idx ON aibridge_tool_usages (interception_id);
    CREATE INDEX aibridge_tool_usages_tool_call_idx ON aibridge_tool_usages (provider_tool_call_id) WHERE provider_tool_call_id <> '';

    CREATE TABLE aibridge_model_thoughts (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      interception_id uuid NOT NULL REFERENCES aibridge_interceptions (id) ON DELETE CASCADE,
      content text NOT NULL,
      metadata jsonb NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL
    );
    CREATE INDEX aibridge_model_thoughts_interception_idx ON aibridge_model_thoughts (interception_id);

    CREATE TABLE mcp_server_configs (
      id text PRIMARY KEY,
      url text NOT NULL,
      tool_allow_regex text NOT NULL DEFAULT '',
      tool_deny_regex text NOT NULL DEFAULT '',
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT mcp_server_configs_id_check CHECK (length(id) <= 64 AND id ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
      CONSTRAINT mcp_server_configs_url_check CHECK (url ~ '^https?://')
    );

    CREATE TABLE external_auth_links (
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      mcp_server_config_id text NOT NULL REFERENCES mcp_server_configs (id) ON DELETE CASCADE,
      oauth_access_token text NOT NULL,
      oauth_expiry timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (user_id, mcp_server_config_id),
      CONSTRAINT external_auth_links_token_check CHECK (length(oauth_access_token) > 0)
    );

    CREATE TABLE audit_logs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      time timestamptz NOT NULL DEFAULT now(),
      user_id uuid,
      action text NOT NULL,
      resource_type text NOT NULL,
      resource_id text NOT NULL,
      resource_target text NOT NULL,
      status_code integer NOT NULL,
      diff jsonb NOT NULL DEFAULT '{}',
      CONSTRAINT audit_logs_action_check CHECK (action IN ('create', 'write', 'delete'))
    );
    CREATE INDEX audit_logs_time_idx ON audit_logs (time DESC);
    CREATE INDEX audit_logs_resource_idx ON audit_logs (resource_type, resource_id);
  `.execute(db);
  await sql`
    INSERT INTO users (id, username, role, status, is_system)
    VALUES (${SYSTEM_USER_ID}::uuid, 'weir-system', 'member', 'active', true)
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE audit_logs;
    DROP TABLE external_auth_links;
    DROP TABLE mcp_server_configs;
    DROP TABLE aibridge_model_thoughts;
    DROP TABLE aibridge_tool_usages;
    DROP TABLE aibridge_user_prompts;
    DROP TABLE aibridge_token_usages;
    DROP TABLE aibridge_interceptions;
    DROP TABLE ai_gateway_keys;
    DROP TABLE api_keys;
    DROP TABLE users;
  `.execute(db);
}
