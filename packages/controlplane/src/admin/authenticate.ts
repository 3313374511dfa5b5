// Admin authentication: an owner's user API key in `Weir-Session-Token: <key>` or
// `Authorization: Bearer <key>` (scheme case-insensitive), verified by verifyApiKey (the same
// checks the Authorizer RPC makes: expiry, secret, deleted/suspended/system users).
import type { Kysely } from "kysely";
import { isApiKeyRefusedError, verifyApiKey, type VerifiedApiKey } from "../auth/verify-api-key.js";
import type { Database } from "../db/schema.js";
import { parseApiKey } from "../keys/api-key.js";
import { ForbiddenError, UnauthenticatedError } from "./errors.js";

export const SESSION_TOKEN_HEADER = "weir-session-token";

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The presented key, `Weir-Session-Token` first, then a Bearer token; undefined when neither. */
export function presentedKey(headers: Readonly<Record<string, string | string[] | undefined>>): string | undefined {
  const session = single(headers[SESSION_TOKEN_HEADER])?.trim();
  if (session) return session;
  const authorization = single(headers.authorization)?.trim();
  const m = authorization ? /^bearer\s+(\S+)$/i.exec(authorization) : null;
  return m?.[1];
}

/**
 * The verified owner behind the request. 401 (UnauthenticatedError, one constant message) for
 * a missing or refused key, 403 (ForbiddenError) for a valid key of a non-owner. Database
 * failures propagate as they are (500). SECURITY: the key is never logged or echoed.
 */
export async function authenticateOwner(
  db: Kysely<Database>,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  now: Date,
): Promise<VerifiedApiKey> {
  const key = presentedKey(headers);
  if (key === undefined) throw new UnauthenticatedError("missing");
  let verified: VerifiedApiKey;
  try {
    verified = await verifyApiKey(db, { key }, now);
  } catch (err) {
    // The id says which key a client still presents (a deleted or expired one, say).
    if (isApiKeyRefusedError(err)) throw new UnauthenticatedError(err.reason, parseApiKey(key)?.id);
    throw err;
  }
  if (verified.role !== "owner") throw new ForbiddenError();
  return verified;
}
