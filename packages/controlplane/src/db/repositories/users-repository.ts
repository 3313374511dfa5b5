// Users as the admin API sees them. Deleted users are soft-deleted (`deleted = true`) and treated
// as absent by every read here; system users are visible but never modified (callers enforce).
import { sql, type Kysely } from "kysely";
import { isUuid } from "@weir/proto";
import type { Database, UserRole, UserRow, UserStatus } from "../schema.js";

export interface NewUser {
  readonly username: string;
  readonly email: string | null;
  readonly role: UserRole;
}

export async function insertUser(db: Kysely<Database>, user: NewUser): Promise<UserRow> {
  return db
    .insertInto("users")
    .values({ username: user.username, email: user.email, role: user.role })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** A user that is not deleted, or undefined. */
export async function findUserById(db: Kysely<Database>, id: string): Promise<UserRow | undefined> {
  return db.selectFrom("users").selectAll().where("id", "=", id).where("deleted", "=", false).executeTakeFirst();
}

/** A user that is not deleted, by id or by username in any case, or undefined. */
export async function findUserByNameOrId(db: Kysely<Database>, nameOrId: string): Promise<UserRow | undefined> {
  const wanted = nameOrId.toLowerCase();
  if (isUuid(wanted)) return findUserById(db, wanted);
  return db.selectFrom("users").selectAll().where(sql<string>`lower(username)`, "=", wanted).where("deleted", "=", false).executeTakeFirst();
}

/** Like findUserById, locking the row until the transaction ends. */
export async function findUserByIdForUpdate(db: Kysely<Database>, id: string): Promise<UserRow | undefined> {
  return db.selectFrom("users").selectAll().where("id", "=", id).where("deleted", "=", false).forUpdate().executeTakeFirst();
}

/** Users that are not deleted, oldest first; system users only when asked. */
export async function listUsers(db: Kysely<Database>, options: { readonly includeSystem: boolean; readonly includeDeleted?: boolean }): Promise<UserRow[]> {
  let query = db.selectFrom("users").selectAll();
  if (options.includeDeleted !== true) query = query.where("deleted", "=", false);
  if (!options.includeSystem) query = query.where("is_system", "=", false);
  return query.orderBy("created_at", "asc").orderBy("id", "asc").execute();
}

/**
 * Ids of the active, non-system owners, locked in id order until the transaction ends. Every
 * change that can remove an active owner takes these locks first, so two concurrent changes
 * cannot both remove "one of two" owners, and the fixed order cannot deadlock.
 */
export async function lockActiveOwnerIds(db: Kysely<Database>): Promise<string[]> {
  const rows = await db
    .selectFrom("users")
    .select("id")
    .where("role", "=", "owner")
    .where("status", "=", "active")
    .where("is_system", "=", false)
    .where("deleted", "=", false)
    .orderBy("id")
    .forUpdate()
    .execute();
  return rows.map((r) => r.id);
}

/** Whether any non-deleted, non-system owner exists (active or suspended). */
export async function ownerExists(db: Kysely<Database>): Promise<boolean> {
  const row = await db
    .selectFrom("users")
    .select("id")
    .where("role", "=", "owner")
    .where("is_system", "=", false)
    .where("deleted", "=", false)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

export interface UserChanges {
  readonly role?: UserRole | undefined;
  readonly status?: UserStatus | undefined;
}

export async function updateUser(db: Kysely<Database>, id: string, changes: UserChanges, now: Date): Promise<UserRow> {
  return db
    .updateTable("users")
    .set({
      ...(changes.role !== undefined ? { role: changes.role } : {}),
      ...(changes.status !== undefined ? { status: changes.status } : {}),
      updated_at: now,
    })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Marks a user deleted; their API keys stop verifying (verifyApiKey refuses deleted users). */
export async function softDeleteUser(db: Kysely<Database>, id: string, now: Date): Promise<UserRow | undefined> {
  return db
    .updateTable("users")
    .set({ deleted: true, updated_at: now })
    .where("id", "=", id)
    .where("deleted", "=", false)
    .returningAll()
    .executeTakeFirst();
}
