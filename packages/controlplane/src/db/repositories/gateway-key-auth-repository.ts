// The two queries the RPC server runs on ai_gateway_keys: authenticate a presented key by its
// digest (unique index ai_gateway_keys_hashed_secret_idx) and record that a key was used.
// Key management (create/list/delete) lives in the admin API's gateway-keys repository.
import type { Kysely } from "kysely";
import type { Database } from "../schema.js";

/** What authentication needs of a stored gateway key. */
export interface GatewayKeyCredential {
  readonly id: string;
  readonly name: string;
  readonly secretPrefix: string;
  readonly hashedSecret: Buffer;
  readonly allowDelegation: boolean;
}

/** The key whose stored sha256 equals `hashedSecret`, if any. */
export async function findGatewayKeyByHashedSecret(db: Kysely<Database>, hashedSecret: Buffer): Promise<GatewayKeyCredential | undefined> {
  const row = await db
    .selectFrom("ai_gateway_keys")
    .select(["id", "name", "secret_prefix", "hashed_secret", "allow_delegation"])
    .where("hashed_secret", "=", hashedSecret)
    .executeTakeFirst();
  return row && { id: row.id, name: row.name, secretPrefix: row.secret_prefix, hashedSecret: row.hashed_secret, allowDelegation: row.allow_delegation };
}

/**
 * Sets last_used_at = now unless it was already set less than `minIntervalMs` before now (so
 * replicas sharing the database also write at most about once per interval). Returns whether a
 * row changed; false also when the key no longer exists.
 */
export async function touchGatewayKeyLastUsed(db: Kysely<Database>, id: string, now: Date, minIntervalMs: number): Promise<boolean> {
  const result = await db
    .updateTable("ai_gateway_keys")
    .set({ last_used_at: now })
    .where("id", "=", id)
    .where((eb) => eb.or([eb("last_used_at", "is", null), eb("last_used_at", "<=", new Date(now.getTime() - minIntervalMs))]))
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
