// Verifies a user API key, in the reference's order (reference §4): malformed key, unknown
// key, expired, wrong secret (skipped for delegated key ids), unknown user, deleted user,
// inactive user, system user. Shared by Authorizer.IsAuthorized and the admin API.
import type { Kysely } from "kysely";
import { isApiKeyId, parseApiKey } from "../keys/api-key.js";
import { digestsEqual, sha256 } from "../keys/secret-hash.js";
import type { Database, UserRole } from "../db/schema.js";

/** Stable, machine-readable reasons a key is refused (sent to gateways, logged by them). */
export type ApiKeyFailureReason =
  | "invalid_key"
  | "unknown_key"
  | "expired"
  | "unknown_user"
  | "deleted_user"
  | "inactive_user"
  | "system_user";

/** A refused key. The message is safe to return to callers; it never contains the key. */
export class ApiKeyRefusedError extends Error {
  override readonly name = "ApiKeyRefusedError";
  constructor(readonly reason: ApiKeyFailureReason) {
    super(REASON_MESSAGES[reason]);
  }
}

export function isApiKeyRefusedError(err: unknown): err is ApiKeyRefusedError {
  return err instanceof Error && err.name === "ApiKeyRefusedError";
}

const REASON_MESSAGES: Record<ApiKeyFailureReason, string> = {
  invalid_key: "invalid key",
  unknown_key: "unknown key",
  expired: "expired",
  unknown_user: "unknown user",
  deleted_user: "deleted user",
  inactive_user: "inactive user",
  system_user: "system user",
};

/** The full key, or (delegated callers only) just its id. */
export type ApiKeyCredential = { readonly key: string } | { readonly keyId: string };

/** Who a verified key belongs to. */
export interface VerifiedApiKey {
  readonly apiKeyId: string;
  readonly userId: string;
  readonly username: string;
  readonly role: UserRole;
  /** When the key expires; null when it never does. */
  readonly expiresAt: Date | null;
}

export async function verifyApiKey(db: Kysely<Database>, credential: ApiKeyCredential, now: Date = new Date()): Promise<VerifiedApiKey> {
  let id: string;
  let secret: string | undefined;
  if ("key" in credential) {
    const parsed = parseApiKey(credential.key);
    if (!parsed) throw new ApiKeyRefusedError("invalid_key");
    ({ id, secret } = parsed);
  } else {
    if (!isApiKeyId(credential.keyId)) throw new ApiKeyRefusedError("invalid_key");
    id = credential.keyId;
  }
  // One round trip: the key and (if any) its user.
  const row = await db
    .selectFrom("api_keys as k")
    .leftJoin("users as u", "u.id", "k.user_id")
    .select(["k.id", "k.hashed_secret", "k.expires_at", "u.id as user_id", "u.username", "u.role", "u.status", "u.deleted", "u.is_system"])
    .where("k.id", "=", id)
    .executeTakeFirst();
  if (!row) throw new ApiKeyRefusedError("unknown_key");
  if (row.expires_at !== null && row.expires_at.getTime() <= now.getTime()) throw new ApiKeyRefusedError("expired");
  if (secret !== undefined && !digestsEqual(sha256(secret), row.hashed_secret)) throw new ApiKeyRefusedError("invalid_key");
  if (row.user_id === null || row.username === null || row.role === null) throw new ApiKeyRefusedError("unknown_user");
  if (row.deleted) throw new ApiKeyRefusedError("deleted_user");
  if (row.status !== "active") throw new ApiKeyRefusedError("inactive_user");
  if (row.is_system) throw new ApiKeyRefusedError("system_user");
  return { apiKeyId: row.id, userId: row.user_id, username: row.username, role: row.role, expiresAt: row.expires_at };
}
