// /api/v2/ai-gateway/keys (reference §5): create, list, delete the keys gateway replicas present
// to the control plane. Statuses and messages are the reference's. The plaintext key is returned
// once, on create; lists and audit rows carry the prefix only, never the hash.
// `allow_delegation: true` lets gateways using the key authorize by API key id alone (DESIGN §5):
// an explicit opt-in, recorded in the audit diff and logged at warn.
import { insertAuditLog } from "../db/repositories/audit-repository.js";
import {
  deleteGatewayKey,
  GATEWAY_KEY_CONSTRAINTS,
  insertGatewayKey,
  listGatewayKeys,
  type GatewayKeyRecord,
} from "../db/repositories/gateway-keys-repository.js";
import { InvalidRequestError, ResourceNotFoundError } from "./errors.js";
import { MAX_KEY_ATTEMPTS } from "./issue-api-key.js";
import { violatedConstraint } from "../db/postgres-error.js";
import { json, noContent } from "./reply.js";
import { toCreatedGatewayKeyResponse, toGatewayKeyResponse } from "./responses.js";
import { uuidParam, type AdminRoute, type RouteDeps } from "./route-context.js";
import { FieldChecks, requireJsonObject } from "./validation.js";

/** The reference's messages. */
export const GATEWAY_KEY_MESSAGES = Object.freeze({
  invalidName: "Invalid key name.",
  nameRule: "Must be 64 characters or fewer, lowercase letters, numbers, and non-consecutive hyphens, cannot start or end with a hyphen.",
  nameTaken: "Key name must be unique.",
  nameTakenDetail: "A key with this name already exists.",
  createFailed: "Failed to create key. Please retry.",
  listFailed: "Failed to list keys.",
  deleteFailed: "Failed to delete key.",
  invalidId: "Invalid key ID.",
  notFound: "Key not found.",
});

/** Non-secret fields of a gateway key, as audit diffs record them (never hashed_secret). */
export function gatewayKeyAuditDiff(record: GatewayKeyRecord): Record<string, unknown> {
  return { name: record.name, secret_prefix: record.secret_prefix, allow_delegation: record.allow_delegation };
}

export function gatewayKeyRoutes(deps: RouteDeps): AdminRoute[] {
  const { db } = deps;
  return [
    {
      method: "POST",
      pattern: "/api/v2/ai-gateway/keys",
      handler: {
        failureMessage: GATEWAY_KEY_MESSAGES.createFailed,
        async run(ctx) {
          const checks = new FieldChecks(requireJsonObject(await ctx.readJson()));
          const name = checks.requiredString("name");
          const allowDelegation = checks.optionalBoolean("allow_delegation") ?? false;
          checks.check();
          // Each attempt is its own transaction: a unique violation aborts the one it happens in.
          for (let attempt = 1; attempt <= MAX_KEY_ATTEMPTS; attempt++) {
            const generated = deps.generateGatewayKey();
            try {
              const record = await db.transaction().execute(async (trx) => {
                const record = await insertGatewayKey(trx, {
                  name,
                  secretPrefix: generated.prefix,
                  hashedSecret: generated.hashedSecret,
                  allowDelegation,
                });
                await insertAuditLog(trx, {
                  userId: ctx.actor.userId,
                  action: "create",
                  resourceType: "ai_gateway_key",
                  resourceId: record.id,
                  resourceTarget: record.name,
                  statusCode: 201,
                  diff: gatewayKeyAuditDiff(record),
                });
                return record;
              });
              // SECURITY: logged by prefix, never the key.
              const fields = { gateway_key_id: record.id, key_prefix: record.secret_prefix, allow_delegation: record.allow_delegation };
              if (record.allow_delegation) ctx.logger.warn(fields, "gateway key created with delegation allowed");
              else ctx.logger.info(fields, "gateway key created");
              return json(201, toCreatedGatewayKeyResponse(record, generated.key));
            } catch (err) {
              const constraint = violatedConstraint(err);
              if (constraint === GATEWAY_KEY_CONSTRAINTS.nameCheck) {
                throw new InvalidRequestError(GATEWAY_KEY_MESSAGES.invalidName, {
                  validations: [{ field: "name", detail: GATEWAY_KEY_MESSAGES.nameRule }],
                });
              }
              if (constraint === GATEWAY_KEY_CONSTRAINTS.nameUnique) {
                throw new InvalidRequestError(GATEWAY_KEY_MESSAGES.nameTaken, { detail: GATEWAY_KEY_MESSAGES.nameTakenDetail });
              }
              if (constraint === GATEWAY_KEY_CONSTRAINTS.prefixUnique || constraint === GATEWAY_KEY_CONSTRAINTS.hashUnique) {
                ctx.logger.warn({ attempt, constraint }, "gateway key collision, drawing a new key");
                continue;
              }
              throw new Error("insert gateway key", { cause: err });
            }
          }
          throw new Error(`insert gateway key: ${MAX_KEY_ATTEMPTS} prefix or hash collisions in a row`);
        },
      },
    },
    {
      method: "GET",
      pattern: "/api/v2/ai-gateway/keys",
      handler: {
        failureMessage: GATEWAY_KEY_MESSAGES.listFailed,
        async run() {
          return json(200, (await listGatewayKeys(db)).map(toGatewayKeyResponse));
        },
      },
    },
    {
      method: "DELETE",
      pattern: "/api/v2/ai-gateway/keys/{id}",
      handler: {
        failureMessage: GATEWAY_KEY_MESSAGES.deleteFailed,
        async run(ctx) {
          const id = uuidParam(ctx, "id", GATEWAY_KEY_MESSAGES.invalidId);
          const record = await db.transaction().execute(async (trx) => {
            const record = await deleteGatewayKey(trx, id);
            if (record === undefined) throw new ResourceNotFoundError(GATEWAY_KEY_MESSAGES.notFound);
            await insertAuditLog(trx, {
              userId: ctx.actor.userId,
              action: "delete",
              resourceType: "ai_gateway_key",
              resourceId: record.id,
              resourceTarget: record.name,
              statusCode: 204,
              diff: gatewayKeyAuditDiff(record),
            });
            return record;
          });
          ctx.logger.info({ gateway_key_id: record.id, key_prefix: record.secret_prefix }, "gateway key deleted");
          return noContent();
        },
      },
    },
  ];
}
