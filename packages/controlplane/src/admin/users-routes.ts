// /api/v2/users: create, list, get, update (status, role) and soft-delete users.
// Deleted users are absent (404) everywhere; system users are visible but never modified (403).
// At least one active owner always remains: demoting, suspending or deleting the last one is
// refused (400).
import type { Kysely } from "kysely";
import { insertAuditLog } from "../db/repositories/audit-repository.js";
import {
  findUserById,
  findUserByIdForUpdate,
  listUsers,
  lockActiveOwnerIds,
  softDeleteUser,
  updateUser,
} from "../db/repositories/users-repository.js";
import type { Database, UserRow, UserStatus } from "../db/schema.js";
import { ForbiddenError, InvalidRequestError, ResourceNotFoundError } from "./errors.js";
import { createUser, parseNewUser, USER_ROLES, userAuditDiff } from "./new-user.js";
import { refuseLosingLastKeyHolder } from "./owner-access.js";
import { json, noContent } from "./reply.js";
import { toUserResponse } from "./responses.js";
import { uuidParam, type AdminRoute, type RouteContext, type RouteDeps } from "./route-context.js";
import { FieldChecks, requireJsonObject } from "./validation.js";

export const INVALID_USER_ID = "Invalid user ID.";
export const USER_NOT_FOUND = "User not found.";
export const SYSTEM_USER_IMMUTABLE = "System users cannot be modified.";
export const LAST_OWNER = "Cannot demote, suspend or delete the last active owner.";

const USER_STATUSES: readonly UserStatus[] = ["active", "suspended"];

/** The `{id}` user of the path (not deleted); 400 for a malformed id, 404 when absent. */
export async function pathUser(db: Kysely<Database>, ctx: RouteContext, options: { forUpdate?: boolean } = {}): Promise<UserRow> {
  const id = uuidParam(ctx, "id", INVALID_USER_ID);
  const user = options.forUpdate ? await findUserByIdForUpdate(db, id) : await findUserById(db, id);
  if (user === undefined) throw new ResourceNotFoundError(USER_NOT_FOUND);
  return user;
}

/** Like pathUser, refusing system users (403): for every change made on a user's behalf. */
export async function mutablePathUser(db: Kysely<Database>, ctx: RouteContext): Promise<UserRow> {
  const user = await pathUser(db, ctx, { forUpdate: true });
  if (user.is_system) throw new ForbiddenError(SYSTEM_USER_IMMUTABLE);
  return user;
}

export const isActiveOwner = (u: { role: string; status: string }) => u.role === "owner" && u.status === "active";

export function userRoutes(deps: RouteDeps): AdminRoute[] {
  const { db } = deps;
  return [
    {
      method: "POST",
      pattern: "/api/v2/users",
      handler: {
        failureMessage: "Failed to create user.",
        async run(ctx) {
          const user = parseNewUser(await ctx.readJson());
          const row = await db.transaction().execute((trx) => createUser(trx, user, ctx.actor.userId));
          ctx.logger.info({ target_user_id: row.id, role: row.role }, "user created");
          return json(201, toUserResponse(row));
        },
      },
    },
    {
      method: "GET",
      pattern: "/api/v2/users",
      handler: {
        failureMessage: "Failed to list users.",
        async run(ctx) {
          const flags = { include_system: ctx.query.get("include_system") ?? "false", include_deleted: ctx.query.get("include_deleted") ?? "false" };
          const validations = Object.entries(flags)
            .filter(([, value]) => value !== "true" && value !== "false")
            .map(([field]) => ({ field, detail: 'Must be "true" or "false".' }));
          if (validations.length > 0) throw new InvalidRequestError("Invalid query parameters.", { validations });
          // Deleted users stay in the database (their interceptions name them): an audit asks for
          // them by name. Listed with them, every user says whether it is deleted.
          const includeDeleted = flags.include_deleted === "true";
          const rows = await listUsers(db, { includeSystem: flags.include_system === "true", includeDeleted });
          return json(200, rows.map((row) => (includeDeleted ? { ...toUserResponse(row), deleted: row.deleted } : toUserResponse(row))));
        },
      },
    },
    {
      method: "GET",
      pattern: "/api/v2/users/{id}",
      handler: {
        failureMessage: "Failed to get user.",
        async run(ctx) {
          return json(200, toUserResponse(await pathUser(db, ctx)));
        },
      },
    },
    {
      method: "PATCH",
      pattern: "/api/v2/users/{id}",
      handler: {
        failureMessage: "Failed to update user.",
        async run(ctx) {
          uuidParam(ctx, "id", INVALID_USER_ID);
          const checks = new FieldChecks(requireJsonObject(await ctx.readJson()));
          const status = checks.optionalEnum("status", USER_STATUSES);
          const role = checks.optionalEnum("role", USER_ROLES);
          checks.check();
          const row = await db.transaction().execute(async (trx) => {
            // Owners first, then the target: one lock order for every change (no deadlocks).
            const activeOwners = await lockActiveOwnerIds(trx);
            const before = await mutablePathUser(trx, ctx);
            const after = { role: role ?? before.role, status: status ?? before.status };
            const diff: Record<string, { old: string; new: string }> = {};
            if (after.role !== before.role) diff.role = { old: before.role, new: after.role };
            if (after.status !== before.status) diff.status = { old: before.status, new: after.status };
            if (Object.keys(diff).length === 0) return before;
            const now = deps.clock();
            if (isActiveOwner(before) && !isActiveOwner(after)) {
              if (activeOwners.length <= 1) throw new InvalidRequestError(LAST_OWNER, { detail: "Make another user an active owner first." });
              await refuseLosingLastKeyHolder(trx, before.id, now);
            }
            const updated = await updateUser(trx, before.id, { role: after.role, status: after.status }, now);
            await insertAuditLog(trx, {
              userId: ctx.actor.userId,
              action: "write",
              resourceType: "user",
              resourceId: updated.id,
              resourceTarget: updated.username,
              statusCode: 200,
              diff,
            });
            ctx.logger.info({ target_user_id: updated.id, role: updated.role, status: updated.status }, "user updated");
            return updated;
          });
          return json(200, toUserResponse(row));
        },
      },
    },
    {
      method: "DELETE",
      pattern: "/api/v2/users/{id}",
      handler: {
        failureMessage: "Failed to delete user.",
        async run(ctx) {
          uuidParam(ctx, "id", INVALID_USER_ID);
          await db.transaction().execute(async (trx) => {
            const activeOwners = await lockActiveOwnerIds(trx);
            const user = await mutablePathUser(trx, ctx);
            const now = deps.clock();
            if (isActiveOwner(user)) {
              if (activeOwners.length <= 1) throw new InvalidRequestError(LAST_OWNER, { detail: "Make another user an active owner first." });
              await refuseLosingLastKeyHolder(trx, user.id, now);
            }
            const deleted = await softDeleteUser(trx, user.id, now);
            if (deleted === undefined) throw new ResourceNotFoundError(USER_NOT_FOUND);
            await insertAuditLog(trx, {
              userId: ctx.actor.userId,
              action: "delete",
              resourceType: "user",
              resourceId: user.id,
              resourceTarget: user.username,
              statusCode: 204,
              diff: userAuditDiff(user),
            });
          });
          ctx.logger.info({ target_user_id: ctx.params.id }, "user deleted");
          return noContent();
        },
      },
    },
  ];
}
