// MCPConfigurator (DESIGN §4, reference §9): MCP server configs and per-user access tokens.
// Reads only.
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { GetMCPServerAccessTokensBatchRequest, GetMCPServerConfigsRequest, MCPConfigurator } from "@weir/proto";
import type { Kysely } from "kysely";
import { systemClock, type Clock } from "../clock.js";
import { findMcpTokenCandidates, listMcpServerConfigs } from "../db/repositories/mcp-repository.js";
import type { Database, McpServerConfigRow } from "../db/schema.js";
import { requireUuid } from "./request-validation.js";
import type { ServiceDeps } from "./service-deps.js";

/** Per-server error messages of GetMCPServerAccessTokensBatch, worded as in the reference. */
export const MCP_TOKEN_ERRORS = Object.freeze({
  noConfig: "no MCP config found",
  noLink: "no external auth link found",
  expired: "expired or invalid OAuth2 token",
});

interface McpServerConfigMessage {
  id: string;
  url: string;
  toolAllowRegex: string;
  toolDenyRegex: string;
}

/** Row -> MCPServerConfig. */
export function mcpServerConfigFromRow(row: McpServerConfigRow): McpServerConfigMessage {
  return { id: row.id, url: row.url, toolAllowRegex: row.tool_allow_regex, toolDenyRegex: row.tool_deny_regex };
}

export class MCPConfiguratorService implements ServiceImpl<typeof MCPConfigurator> {
  private readonly db: Kysely<Database>;
  private readonly clock: Clock;

  constructor(deps: ServiceDeps) {
    this.db = deps.db;
    this.clock = deps.clock ?? systemClock;
  }

  // user_id is not used to filter yet (see the proto); the control plane has no MCP server of
  // its own, so coder_mcp_config stays unset.
  async getMCPServerConfigs(_req: GetMCPServerConfigsRequest, _ctx: HandlerContext): Promise<{ externalAuthMcpConfigs: McpServerConfigMessage[] }> {
    const rows = await listMcpServerConfigs(this.db);
    return { externalAuthMcpConfigs: rows.map(mcpServerConfigFromRow) };
  }

  // Unlike the reference, which also returns the per-server failures as the RPC error, we answer
  // OK with both maps: one server's expired token must not hide the others' valid tokens, and
  // the errors map already says what went wrong per server. No token refresh is attempted.
  async getMCPServerAccessTokensBatch(
    req: GetMCPServerAccessTokensBatchRequest,
    _ctx: HandlerContext,
  ): Promise<{ accessTokens: Record<string, string>; errors: Record<string, string> }> {
    const userId = requireUuid("user_id", req.userId);
    const ids = [...new Set(req.mcpServerConfigIds)];
    // Maps, then Object.fromEntries: an id such as "__proto__" stays an ordinary key.
    const accessTokens = new Map<string, string>();
    const errors = new Map<string, string>();
    if (ids.length > 0) {
      const candidates = new Map((await findMcpTokenCandidates(this.db, userId, ids)).map((c) => [c.configId, c]));
      const now = this.clock.now().getTime();
      for (const id of ids) {
        const candidate = candidates.get(id);
        if (!candidate) errors.set(id, MCP_TOKEN_ERRORS.noConfig);
        else if (candidate.accessToken === null) errors.set(id, MCP_TOKEN_ERRORS.noLink);
        else if (candidate.expiry !== null && candidate.expiry.getTime() <= now) errors.set(id, MCP_TOKEN_ERRORS.expired);
        else accessTokens.set(id, candidate.accessToken);
      }
    }
    return { accessTokens: Object.fromEntries(accessTokens), errors: Object.fromEntries(errors) };
  }
}
