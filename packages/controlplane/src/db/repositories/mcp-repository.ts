// Reads of the MCPConfigurator service: MCP server configs and a user's external-auth links.
import type { Kysely } from "kysely";
import type { Database, McpServerConfigRow } from "../schema.js";

/** Every configured MCP server, ordered by id. */
export async function listMcpServerConfigs(db: Kysely<Database>): Promise<McpServerConfigRow[]> {
  return db.selectFrom("mcp_server_configs").selectAll().orderBy("id").execute();
}

/** What is known about one requested server id for one user. */
export interface McpTokenCandidate {
  readonly configId: string;
  /** Null when the user has no external-auth link for this server. */
  readonly accessToken: string | null;
  readonly expiry: Date | null;
}

/**
 * For each of `configIds` that has a config row: the user's link (if any). Ids without a config
 * row are absent from the result. One query.
 */
export async function findMcpTokenCandidates(db: Kysely<Database>, userId: string, configIds: readonly string[]): Promise<McpTokenCandidate[]> {
  if (configIds.length === 0) return [];
  const rows = await db
    .selectFrom("mcp_server_configs as c")
    .leftJoin("external_auth_links as l", (join) => join.onRef("l.mcp_server_config_id", "=", "c.id").on("l.user_id", "=", userId))
    .select(["c.id", "l.oauth_access_token", "l.oauth_expiry"])
    .where("c.id", "in", [...configIds])
    .execute();
  return rows.map((r) => ({ configId: r.id, accessToken: r.oauth_access_token, expiry: r.oauth_expiry }));
}
