// Issuing a user API key, shared by POST /api/v2/users/{id}/keys and bootstrapOwner: generate,
// insert (a taken id is retried with a fresh key), and audit, in the caller's transaction.
import type { Kysely } from "kysely";
import { insertApiKey, type ApiKeyRecord } from "../db/repositories/api-keys-repository.js";
import { insertAuditLog } from "../db/repositories/audit-repository.js";
import type { Database } from "../db/schema.js";
import type { GeneratedApiKey } from "../keys/api-key.js";

/** Attempts before giving up on id collisions (as for gateway keys, DESIGN §4). */
export const MAX_KEY_ATTEMPTS = 7;

export interface ApiKeyToIssue {
  readonly userId: string;
  readonly name: string;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
}

export interface IssuedApiKey {
  readonly record: ApiKeyRecord;
  /** SECURITY: the plaintext key, to be shown once and never logged. */
  readonly key: string;
}

export async function issueApiKey(
  trx: Kysely<Database>,
  toIssue: ApiKeyToIssue,
  generate: () => GeneratedApiKey,
  actorId: string | null,
): Promise<IssuedApiKey> {
  for (let attempt = 1; attempt <= MAX_KEY_ATTEMPTS; attempt++) {
    const generated = generate();
    const record = await insertApiKey(trx, { id: generated.id, hashedSecret: generated.hashedSecret, ...toIssue });
    if (record === undefined) continue; // id taken: draw again
    // SECURITY: the audit diff names the key by id; never the secret or its hash.
    await insertAuditLog(trx, {
      userId: actorId,
      action: "create",
      resourceType: "api_key",
      resourceId: record.id,
      resourceTarget: record.id,
      statusCode: 201,
      diff: apiKeyAuditDiff(record),
    });
    return { record, key: generated.key };
  }
  throw new Error(`issue API key: ${MAX_KEY_ATTEMPTS} id collisions in a row`);
}

/** Non-secret fields of an API key, as audit diffs record them. */
export function apiKeyAuditDiff(record: ApiKeyRecord): Record<string, unknown> {
  return { user_id: record.user_id, name: record.name, expires_at: record.expires_at?.toISOString() ?? null };
}
