// User API keys. Only the id and sha256(secret) are stored; reads here never select the hash.
import type { Kysely } from "kysely";
import type { Database } from "../schema.js";

/** An API key without its hash. */
export interface ApiKeyRecord {
  readonly id: string;
  readonly user_id: string;
  readonly name: string;
  readonly created_at: Date;
  readonly expires_at: Date | null;
}

export interface NewApiKey {
  readonly id: string;
  /** SECURITY: sha256 of the secret; never logged or returned. */
  readonly hashedSecret: Buffer;
  readonly userId: string;
  readonly name: string;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
}

const PUBLIC_COLUMNS = ["id", "user_id", "name", "created_at", "expires_at"] as const;

/** Inserts a key; undefined when its id is taken (ON CONFLICT DO NOTHING keeps a transaction usable). */
export async function insertApiKey(db: Kysely<Database>, key: NewApiKey): Promise<ApiKeyRecord | undefined> {
  return db
    .insertInto("api_keys")
    .values({
      id: key.id,
      hashed_secret: key.hashedSecret,
      user_id: key.userId,
      name: key.name,
      created_at: key.createdAt,
      expires_at: key.expiresAt,
    })
    .onConflict((oc) => oc.column("id").doNothing())
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirst();
}

/** A user's keys, oldest first. */
export async function listApiKeysByUser(db: Kysely<Database>, userId: string): Promise<ApiKeyRecord[]> {
  return db
    .selectFrom("api_keys")
    .select(PUBLIC_COLUMNS)
    .where("user_id", "=", userId)
    .orderBy("created_at", "asc")
    .orderBy("id", "asc")
    .execute();
}

/** Deletes one of a user's keys; undefined when that user has no such key. */
export async function deleteApiKey(db: Kysely<Database>, userId: string, id: string): Promise<ApiKeyRecord | undefined> {
  return db.deleteFrom("api_keys").where("id", "=", id).where("user_id", "=", userId).returning(PUBLIC_COLUMNS).executeTakeFirst();
}

/**
 * Whether any active, non-system owner (but `exceptUserId`) has an API key that is unexpired at
 * `at`. Callers that act on the answer hold the active owners' row locks (lockActiveOwnerIds)
 * first, so concurrent changes that take the same locks cannot change it before they commit.
 */
export async function activeOwnerHasUsableApiKey(db: Kysely<Database>, at: Date, options: { exceptUserId?: string } = {}): Promise<boolean> {
  let query = db
    .selectFrom("api_keys as k")
    .innerJoin("users as u", "u.id", "k.user_id")
    .select("k.id")
    .where("u.role", "=", "owner")
    .where("u.status", "=", "active")
    .where("u.is_system", "=", false)
    .where("u.deleted", "=", false)
    .where((eb) => eb.or([eb("k.expires_at", "is", null), eb("k.expires_at", ">", at)]));
  if (options.exceptUserId !== undefined) query = query.where("u.id", "!=", options.exceptUserId);
  const row = await query.limit(1).executeTakeFirst();
  return row !== undefined;
}
