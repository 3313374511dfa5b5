// User API keys: "<10-char id>-<22-char secret>", both alphanumeric (DESIGN §4). Only the id
// and sha256(secret) are stored; the full key is shown once, on creation.
import { randomAlphanumeric } from "./random-string.js";
import { sha256 } from "./secret-hash.js";

export const API_KEY_ID_LENGTH = 10;
export const API_KEY_SECRET_LENGTH = 22;

const API_KEY_PATTERN = /^([0-9A-Za-z]{10})-([0-9A-Za-z]{22})$/;
const API_KEY_ID_PATTERN = /^[0-9A-Za-z]{10}$/;

/** A freshly generated key. SECURITY: `key` and `secret` must never be logged or stored. */
export interface GeneratedApiKey {
  readonly id: string;
  readonly secret: string;
  readonly key: string;
  readonly hashedSecret: Buffer;
}

export function generateApiKey(): GeneratedApiKey {
  const id = randomAlphanumeric(API_KEY_ID_LENGTH);
  const secret = randomAlphanumeric(API_KEY_SECRET_LENGTH);
  return { id, secret, key: `${id}-${secret}`, hashedSecret: sha256(secret) };
}

/** Splits a full key into id and secret; undefined when it is not a well-formed key. */
export function parseApiKey(key: string): { id: string; secret: string } | undefined {
  const m = API_KEY_PATTERN.exec(key);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

export function isApiKeyId(id: string): boolean {
  return API_KEY_ID_PATTERN.test(id);
}
