// /api/v2/users/{id}/keys: issue, list and delete a user's API keys. The full key appears only
// in the 201 answer; lists never carry the key or its hash. The last usable key of the active
// owners cannot be deleted (409, owner-access.ts): without it no one could use the admin API again.
import { deleteApiKey, listApiKeysByUser } from "../db/repositories/api-keys-repository.js";
import { insertAuditLog } from "../db/repositories/audit-repository.js";
import { lockActiveOwnerIds } from "../db/repositories/users-repository.js";
import { isApiKeyId } from "../keys/api-key.js";
import { InvalidRequestError, ResourceNotFoundError } from "./errors.js";
import { apiKeyAuditDiff, issueApiKey } from "./issue-api-key.js";
import { refuseLosingLastOwnerKey } from "./owner-access.js";
import { json, noContent } from "./reply.js";
import { toApiKeyResponse, toCreatedApiKeyResponse } from "./responses.js";
import { uuidParam, type AdminRoute, type RouteDeps } from "./route-context.js";
import { INVALID_USER_ID, isActiveOwner, mutablePathUser, pathUser } from "./users-routes.js";
import { FieldChecks, requireJsonObject } from "./validation.js";

/** 100 years: beyond any sensible lifetime, and far inside what timestamptz can hold. */
export const MAX_API_KEY_LIFETIME_SECONDS = 100 * 365 * 24 * 60 * 60;
export const MAX_API_KEY_NAME_LENGTH = 64;

export function apiKeyRoutes(deps: RouteDeps): AdminRoute[] {
  const { db } = deps;
  return [
    {
      method: "POST",
      pattern: "/api/v2/users/{id}/keys",
      handler: {
        failureMessage: "Failed to create API key.",
        async run(ctx) {
          uuidParam(ctx, "id", INVALID_USER_ID);
          // Both fields are optional, so an empty body means "defaults".
          const checks = new FieldChecks(requireJsonObject((await ctx.readJson()) ?? {}));
          const name = checks.optionalString("name", { maxLength: MAX_API_KEY_NAME_LENGTH }) ?? "";
          const lifetimeSeconds = checks.optionalPositiveInteger("lifetime_seconds", MAX_API_KEY_LIFETIME_SECONDS);
          checks.check();
          const now = deps.clock();
          const expiresAt = lifetimeSeconds === undefined ? null : new Date(now.getTime() + lifetimeSeconds * 1000);
          const issued = await db.transaction().execute(async (trx) => {
            const user = await mutablePathUser(trx, ctx);
            return issueApiKey(trx, { userId: user.id, name, createdAt: now, expiresAt }, deps.generateApiKey, ctx.actor.userId);
          });
          // SECURITY: the key is logged by id only.
          ctx.logger.info({ target_user_id: issued.record.user_id, api_key_id: issued.record.id }, "api key created");
          return json(201, toCreatedApiKeyResponse(issued.record, issued.key));
        },
      },
    },
    {
      method: "GET",
      pattern: "/api/v2/users/{id}/keys",
      handler: {
        failureMessage: "Failed to list API keys.",
        async run(ctx) {
          const user = await pathUser(db, ctx);
          return json(200, (await listApiKeysByUser(db, user.id)).map(toApiKeyResponse));
        },
      },
    },
    {
      method: "DELETE",
      pattern: "/api/v2/users/{id}/keys/{keyId}",
      handler: {
        failureMessage: "Failed to delete API key.",
        async run(ctx) {
          uuidParam(ctx, "id", INVALID_USER_ID);
          const keyId = ctx.params.keyId ?? "";
          if (!isApiKeyId(keyId)) throw new InvalidRequestError("Invalid key ID.");
          const now = deps.clock();
          await db.transaction().execute(async (trx) => {
            // Owners first, then the target: the lock order of the users routes' last-owner
            // guards, so concurrent deletions of the owners' last keys are serialised.
            await lockActiveOwnerIds(trx);
            const user = await mutablePathUser(trx, ctx);
            const deleted = await deleteApiKey(trx, user.id, keyId);
            if (deleted === undefined) throw new ResourceNotFoundError("API key not found.");
            // Keys are the only way into the admin API (the throw rolls the deletion back).
            if (isActiveOwner(user)) await refuseLosingLastOwnerKey(trx, deleted, now);
            await insertAuditLog(trx, {
              userId: ctx.actor.userId,
              action: "delete",
              resourceType: "api_key",
              resourceId: deleted.id,
              resourceTarget: deleted.id,
              statusCode: 204,
              diff: apiKeyAuditDiff(deleted),
            });
          });
          ctx.logger.info({ target_user_id: ctx.params.id, api_key_id: keyId }, "api key deleted");
          return noContent();
        },
      },
    },
  ];
}
