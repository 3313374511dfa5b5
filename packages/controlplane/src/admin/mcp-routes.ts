// MCP administration: server configs (/api/v2/ai-gateway/mcp-servers) that gateways fetch
// through MCPConfigurator, and per-user access tokens for them
// (/api/v2/users/{id}/mcp-tokens/{serverId}, stored in external_auth_links).
// SECURITY: access tokens are write-only: never returned, logged or audited.
import { insertAuditLog } from "../db/repositories/audit-repository.js";
import {
  deleteMcpAccessToken,
  deleteMcpServerConfig,
  insertMcpServerConfig,
  listMcpServerConfigs,
  MCP_CONSTRAINTS,
  upsertMcpAccessToken,
} from "../db/repositories/mcp-admin-repository.js";
import type { McpServerConfigRow } from "../db/schema.js";
import { InvalidRequestError, ResourceNotFoundError } from "./errors.js";
import { violatedConstraint } from "../db/postgres-error.js";
import { json, noContent } from "./reply.js";
import { toMcpServerConfigResponse } from "./responses.js";
import { uuidParam, type AdminRoute, type RouteContext, type RouteDeps } from "./route-context.js";
import { INVALID_USER_ID, mutablePathUser } from "./users-routes.js";
import { FieldChecks, hasNul, requireJsonObject } from "./validation.js";

export const MCP_MESSAGES = Object.freeze({
  invalidId: "Invalid MCP server ID.",
  idRule: "Must be 64 characters or fewer, lowercase letters, numbers, and non-consecutive hyphens, cannot start or end with a hyphen.",
  invalidUrl: "Invalid MCP server URL.",
  urlRule: "Must be an absolute http:// or https:// URL.",
  idTaken: "MCP server ID must be unique.",
  idTakenDetail: "An MCP server with this ID already exists.",
  serverNotFound: "MCP server not found.",
  tokenNotFound: "MCP token not found.",
});

const MAX_REGEX_LENGTH = 4096;
const MAX_TOKEN_LENGTH = 16 * 1024;

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && /^https?:\/\//.test(value);
  } catch {
    return false;
  }
}

/** Tool filters are JavaScript regular expressions, as the gateway compiles them. */
function checkRegex(checks: FieldChecks, field: string, value: string | undefined): void {
  if (value === undefined) return;
  try {
    new RegExp(value);
  } catch (err) {
    checks.add(field, `Must be a valid regular expression: ${(err as Error).message}`);
  }
}

/**
 * The `{name}` MCP server id of the path; 400 for one holding U+0000, which Postgres text cannot
 * store (nor look up: it would refuse the query).
 */
function serverIdParam(ctx: RouteContext, name: string): string {
  const id = ctx.params[name] ?? "";
  if (hasNul(id)) throw new InvalidRequestError(MCP_MESSAGES.invalidId);
  return id;
}

/** Non-secret fields of a config, as audit diffs record them. */
export function mcpServerConfigAuditDiff(row: McpServerConfigRow): Record<string, unknown> {
  return { id: row.id, url: row.url, tool_allow_regex: row.tool_allow_regex, tool_deny_regex: row.tool_deny_regex };
}

export function mcpRoutes(deps: RouteDeps): AdminRoute[] {
  const { db } = deps;
  return [
    {
      method: "POST",
      pattern: "/api/v2/ai-gateway/mcp-servers",
      handler: {
        failureMessage: "Failed to create MCP server.",
        async run(ctx) {
          const checks = new FieldChecks(requireJsonObject(await ctx.readJson()));
          const id = checks.requiredString("id");
          const url = checks.requiredString("url");
          if (url !== "" && !isHttpUrl(url)) checks.add("url", MCP_MESSAGES.urlRule);
          const toolAllowRegex = checks.optionalString("tool_allow_regex", { maxLength: MAX_REGEX_LENGTH });
          const toolDenyRegex = checks.optionalString("tool_deny_regex", { maxLength: MAX_REGEX_LENGTH });
          checkRegex(checks, "tool_allow_regex", toolAllowRegex);
          checkRegex(checks, "tool_deny_regex", toolDenyRegex);
          checks.check();
          let row: McpServerConfigRow;
          try {
            row = await db.transaction().execute(async (trx) => {
              const row = await insertMcpServerConfig(trx, {
                id,
                url,
                toolAllowRegex: toolAllowRegex ?? "",
                toolDenyRegex: toolDenyRegex ?? "",
              });
              await insertAuditLog(trx, {
                userId: ctx.actor.userId,
                action: "create",
                resourceType: "mcp_server_config",
                resourceId: row.id,
                resourceTarget: row.id,
                statusCode: 201,
                diff: mcpServerConfigAuditDiff(row),
              });
              return row;
            });
          } catch (err) {
            const constraint = violatedConstraint(err);
            if (constraint === MCP_CONSTRAINTS.configIdCheck) {
              throw new InvalidRequestError(MCP_MESSAGES.invalidId, { validations: [{ field: "id", detail: MCP_MESSAGES.idRule }] });
            }
            if (constraint === MCP_CONSTRAINTS.configUrlCheck) {
              throw new InvalidRequestError(MCP_MESSAGES.invalidUrl, { validations: [{ field: "url", detail: MCP_MESSAGES.urlRule }] });
            }
            if (constraint === MCP_CONSTRAINTS.configPrimaryKey) {
              throw new InvalidRequestError(MCP_MESSAGES.idTaken, { detail: MCP_MESSAGES.idTakenDetail });
            }
            throw new Error("insert mcp server config", { cause: err });
          }
          ctx.logger.info({ mcp_server_id: row.id }, "mcp server config created");
          return json(201, toMcpServerConfigResponse(row));
        },
      },
    },
    {
      method: "GET",
      pattern: "/api/v2/ai-gateway/mcp-servers",
      handler: {
        failureMessage: "Failed to list MCP servers.",
        async run() {
          return json(200, (await listMcpServerConfigs(db)).map(toMcpServerConfigResponse));
        },
      },
    },
    {
      method: "DELETE",
      pattern: "/api/v2/ai-gateway/mcp-servers/{id}",
      handler: {
        failureMessage: "Failed to delete MCP server.",
        async run(ctx) {
          const id = serverIdParam(ctx, "id");
          await db.transaction().execute(async (trx) => {
            const row = await deleteMcpServerConfig(trx, id);
            if (row === undefined) throw new ResourceNotFoundError(MCP_MESSAGES.serverNotFound);
            await insertAuditLog(trx, {
              userId: ctx.actor.userId,
              action: "delete",
              resourceType: "mcp_server_config",
              resourceId: row.id,
              resourceTarget: row.id,
              statusCode: 204,
              diff: mcpServerConfigAuditDiff(row),
            });
          });
          ctx.logger.info({ mcp_server_id: id }, "mcp server config deleted");
          return noContent();
        },
      },
    },
    {
      method: "PUT",
      pattern: "/api/v2/users/{id}/mcp-tokens/{serverId}",
      handler: {
        failureMessage: "Failed to store MCP token.",
        async run(ctx) {
          uuidParam(ctx, "id", INVALID_USER_ID);
          const serverId = serverIdParam(ctx, "serverId");
          const checks = new FieldChecks(requireJsonObject(await ctx.readJson()));
          const accessToken = checks.requiredString("access_token");
          if (accessToken.length > MAX_TOKEN_LENGTH) checks.add("access_token", `Must be ${MAX_TOKEN_LENGTH} characters or fewer.`);
          const expiresAt = checks.optionalTimestamp("expires_at") ?? null;
          checks.check();
          const now = deps.clock();
          try {
            await db.transaction().execute(async (trx) => {
              const user = await mutablePathUser(trx, ctx);
              const { created } = await upsertMcpAccessToken(trx, { userId: user.id, serverId, accessToken, expiresAt, now });
              await insertAuditLog(trx, {
                userId: ctx.actor.userId,
                action: created ? "create" : "write",
                resourceType: "mcp_access_token",
                resourceId: `${user.id}/${serverId}`,
                resourceTarget: `${user.username}/${serverId}`,
                statusCode: 204,
                // SECURITY: never the token itself.
                diff: { user_id: user.id, mcp_server_config_id: serverId, expires_at: expiresAt?.toISOString() ?? null },
              });
            });
          } catch (err) {
            if (violatedConstraint(err) === MCP_CONSTRAINTS.linkServerForeignKey) throw new ResourceNotFoundError(MCP_MESSAGES.serverNotFound);
            throw err;
          }
          ctx.logger.info({ target_user_id: ctx.params.id, mcp_server_id: serverId }, "mcp token stored");
          return noContent();
        },
      },
    },
    {
      method: "DELETE",
      pattern: "/api/v2/users/{id}/mcp-tokens/{serverId}",
      handler: {
        failureMessage: "Failed to delete MCP token.",
        async run(ctx) {
          uuidParam(ctx, "id", INVALID_USER_ID);
          const serverId = serverIdParam(ctx, "serverId");
          await db.transaction().execute(async (trx) => {
            const user = await mutablePathUser(trx, ctx);
            if (!(await deleteMcpAccessToken(trx, user.id, serverId))) throw new ResourceNotFoundError(MCP_MESSAGES.tokenNotFound);
            await insertAuditLog(trx, {
              userId: ctx.actor.userId,
              action: "delete",
              resourceType: "mcp_access_token",
              resourceId: `${user.id}/${serverId}`,
              resourceTarget: `${user.username}/${serverId}`,
              statusCode: 204,
              diff: { user_id: user.id, mcp_server_config_id: serverId },
            });
          });
          ctx.logger.info({ target_user_id: ctx.params.id, mcp_server_id: serverId }, "mcp token deleted");
          return noContent();
        },
      },
    },
  ];
}
