// Creating a user, shared by POST /api/v2/users and bootstrapOwner: body checks, the insert with
// its constraint violations explained, and the audit row, in the caller's transaction.
import type { Kysely } from "kysely";
import { insertAuditLog } from "../db/repositories/audit-repository.js";
import { insertUser, type NewUser } from "../db/repositories/users-repository.js";
import type { Database, UserRole, UserRow } from "../db/schema.js";
import { InvalidRequestError } from "./errors.js";
import { violatedConstraint } from "../db/postgres-error.js";
import { FieldChecks, requireJsonObject } from "./validation.js";

export const USER_ROLES: readonly UserRole[] = ["owner", "member"];

/** The rule of users_username_check, in words. */
export const USERNAME_RULE =
  "Must be 32 characters or fewer, letters, numbers, and non-consecutive hyphens, cannot start or end with a hyphen.";

const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** A create-user body: {username, email?, role?: "owner"|"member" (default member)}. */
export function parseNewUser(body: unknown): NewUser {
  const checks = new FieldChecks(requireJsonObject(body));
  const username = checks.requiredString("username");
  const email = checks.optionalString("email", { maxLength: 254 });
  if (email !== undefined && !EMAIL.test(email)) checks.add("email", "Must be an email address.");
  const role = checks.optionalEnum("role", USER_ROLES) ?? "member";
  checks.check();
  return { username, email: email ?? null, role };
}

/** Non-secret fields of a user, as audit diffs record them. */
export function userAuditDiff(row: UserRow): Record<string, unknown> {
  return { username: row.username, email: row.email, role: row.role, status: row.status };
}

/**
 * Inserts the user and its audit row (`actorId` null when nobody authenticated). Username CHECK
 * and UNIQUE violations become 400s; the transaction then rolls back as a whole.
 */
export async function createUser(trx: Kysely<Database>, user: NewUser, actorId: string | null): Promise<UserRow> {
  let row: UserRow;
  try {
    row = await insertUser(trx, user);
  } catch (err) {
    const constraint = violatedConstraint(err);
    if (constraint === "users_username_check") {
      throw new InvalidRequestError("Invalid username.", { validations: [{ field: "username", detail: USERNAME_RULE }] });
    }
    if (constraint === "users_username_idx") {
      throw new InvalidRequestError("Username must be unique.", { detail: "A user with this username already exists." });
    }
    throw new Error("insert user", { cause: err });
  }
  await insertAuditLog(trx, {
    userId: actorId,
    action: "create",
    resourceType: "user",
    resourceId: row.id,
    resourceTarget: row.username,
    statusCode: 201,
    diff: userAuditDiff(row),
  });
  return row;
}
