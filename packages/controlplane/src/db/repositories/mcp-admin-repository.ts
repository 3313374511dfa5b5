// Administration of MCP server configs and per-user MCP access tokens (external_auth_links).
// The RPC side reads the same tables through mcp-repository.ts.
// SECURITY: access tokens are written here and never selected back.
import { sql, type Kysely } from "kysely";
import type { Database, McpServerConfigRow } from "../schema.js";

export interface NewMcpServerConfig {
  readonly id: string;
  readonly url: string;
  readonly toolAllowRegex: string;
  readonly toolDenyRegex: string;
}

/** Constraint names the writes can violate (initial migration). */
export const MCP_CONSTRAINTS = Object.freeze({
  configPrimaryKey: "mcp_server_configs_pkey",
  configIdCheck: "mcp_server_configs_id_check",
  configUrlCheck: "mcp_server_configs_url_check",
  linkServerForeignKey: "external_auth_links_mcp_server_config_id_fkey",
  linkUserForeignKey: "external_auth_links_user_id_fkey",
  linkTokenCheck: "external_auth_links_token_check",
});

export async function insertMcpServerConfig(db: Kysely<Database>, config: NewMcpServerConfig): Promise<McpServerConfigRow> {
  return db
    .insertInto("mcp_server_configs")
    .values({ id: config.id, url: config.url, tool_allow_regex: config.toolAllowRegex, tool_deny_regex: config.toolDenyRegex })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Every config, by id. */
export async function listMcpServerConfigs(db: Kysely<Database>): Promise<McpServerConfigRow[]> {
  return db.selectFrom("mcp_server_configs").selectAll().orderBy("id", "asc").execute();
}

/** Deletes a config (its users' tokens go with it, ON DELETE CASCADE); undefined when absent. */
export async function deleteMcpServerConfig(db: Kysely<Database>, id: string): Promise<McpServerConfigRow | undefined> {
  return db.deleteFrom("mcp_server_configs").where("id", "=", id).returningAll().executeTakeFirst();
}

export interface McpAccessTokenWrite {
  readonly userId: string;
  readonly serverId: string;
  /** SECURITY: the user's OAuth access token; never logged or returned. */
  readonly accessToken: string;
  readonly expiresAt: Date | null;
  readonly now: Date;
}

/** Inserts or replaces a user's token for a server; `created` tells which happened. */
export async function upsertMcpAccessToken(db: Kysely<Database>, write: McpAccessTokenWrite): Promise<{ created: boolean }> {
  const row = await db
    .insertInto("external_auth_links")
    .values({
      user_id: write.userId,
      mcp_server_config_id: write.serverId,
      oauth_access_token: write.accessToken,
      oauth_expiry: write.expiresAt,
      created_at: write.now,
      updated_at: write.now,
    })
    .onConflict((oc) =>
      oc.columns(["user_id", "mcp_server_config_id"]).doUpdateSet({
        oauth_access_token: write.accessToken,
        oauth_expiry: write.expiresAt,
        updated_at: write.now,
      }),
    )
    // xmax is 0 for a freshly inserted row version and non-zero for one written by DO UPDATE.
    .returning(sql<boolean>`(xmax = 0)`.as("created"))
    .executeTakeFirstOrThrow();
  return { created: row.created };
}

/** Deletes a user's token for a server; false when there was none. */
export async function deleteMcpAccessToken(db: Kysely<Database>, userId: string, serverId: string): Promise<boolean> {
  const row = await db
    .deleteFrom("external_auth_links")
    .where("user_id", "=", userId)
    .where("mcp_server_config_id", "=", serverId)
    .returning("user_id")
    .executeTakeFirst();
  return row !== undefined;
}
