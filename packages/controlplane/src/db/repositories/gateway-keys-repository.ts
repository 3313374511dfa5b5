// AI gateway keys (reference §5 queries). Reads never select `hashed_secret`; the plaintext key
// is never stored at all.
import type { Kysely } from "kysely";
import type { Database } from "../schema.js";

/** A gateway key without its hash. */
export interface GatewayKeyRecord {
  readonly id: string;
  readonly name: string;
  readonly secret_prefix: string;
  readonly created_at: Date;
  readonly last_used_at: Date | null;
  readonly allow_delegation: boolean;
}

export interface NewGatewayKey {
  readonly name: string;
  readonly secretPrefix: string;
  /** SECURITY: sha256 of the whole key; never logged, returned or audited. */
  readonly hashedSecret: Buffer;
  readonly allowDelegation: boolean;
}

/** Constraint names the insert can violate (initial migration). */
export const GATEWAY_KEY_CONSTRAINTS = Object.freeze({
  nameCheck: "ai_gateway_keys_name_check",
  nameUnique: "ai_gateway_keys_name_idx",
  prefixUnique: "ai_gateway_keys_secret_prefix_idx",
  hashUnique: "ai_gateway_keys_hashed_secret_idx",
});

const PUBLIC_COLUMNS = ["id", "name", "secret_prefix", "created_at", "last_used_at", "allow_delegation"] as const;

/** InsertAIGatewayKey: created_at is the database's now(). */
export async function insertGatewayKey(db: Kysely<Database>, key: NewGatewayKey): Promise<GatewayKeyRecord> {
  return db
    .insertInto("ai_gateway_keys")
    .values({
      name: key.name,
      secret_prefix: key.secretPrefix,
      hashed_secret: key.hashedSecret,
      allow_delegation: key.allowDelegation,
    })
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirstOrThrow();
}

/** ListAIGatewayKeys: oldest first (name breaks ties so the order is stable). */
export async function listGatewayKeys(db: Kysely<Database>): Promise<GatewayKeyRecord[]> {
  return db.selectFrom("ai_gateway_keys").select(PUBLIC_COLUMNS).orderBy("created_at", "asc").orderBy("name", "asc").execute();
}

/** DeleteAIGatewayKey: the deleted row, or undefined when there was none. */
export async function deleteGatewayKey(db: Kysely<Database>, id: string): Promise<GatewayKeyRecord | undefined> {
  return db.deleteFrom("ai_gateway_keys").where("id", "=", id).returning(PUBLIC_COLUMNS).executeTakeFirst();
}
