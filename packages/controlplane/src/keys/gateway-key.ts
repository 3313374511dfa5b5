// Gateway keys authenticate gateway replicas to the control plane (reference §5): 43
// characters whose first 11 are the stored, visible `secret_prefix`. The prefix starts with
// "wgk_" so secret scanners can recognise a leaked Weir gateway key. sha256 of the WHOLE key is
// stored; the plaintext is returned once, on creation.
import { GATEWAY_KEY_LENGTH, GATEWAY_KEY_PREFIX_LENGTH, GATEWAY_KEY_TYPE_PREFIX } from "@weir/proto";
import { randomAlphanumeric } from "./random-string.js";
import { sha256 } from "./secret-hash.js";

export { GATEWAY_KEY_LENGTH, GATEWAY_KEY_PREFIX_LENGTH, GATEWAY_KEY_TYPE_PREFIX, gatewayKeyPrefix } from "@weir/proto";

/** A freshly generated gateway key. SECURITY: `key` must never be logged or stored. */
export interface GeneratedGatewayKey {
  readonly key: string;
  readonly prefix: string;
  readonly hashedSecret: Buffer;
}

export function generateGatewayKey(): GeneratedGatewayKey {
  const key = GATEWAY_KEY_TYPE_PREFIX + randomAlphanumeric(GATEWAY_KEY_LENGTH - GATEWAY_KEY_TYPE_PREFIX.length);
  return { key, prefix: key.slice(0, GATEWAY_KEY_PREFIX_LENGTH), hashedSecret: hashGatewayKey(key) };
}

/** The stored digest of a presented gateway key. */
export function hashGatewayKey(key: string): Buffer {
  return sha256(key);
}

