// The shape of a gateway key (DESIGN §4, reference §5), shared by the control plane that issues
// and checks keys and the gateways that present them: 43 characters whose first 11, starting
// "wgk_", are its public prefix: the only part of a key that may be logged.

export const GATEWAY_KEY_TYPE_PREFIX = "wgk_";
export const GATEWAY_KEY_LENGTH = 43;
export const GATEWAY_KEY_PREFIX_LENGTH = 11;

/**
 * The loggable start of a presented gateway key: its public prefix, or for a string too short to
 * be a gateway key (a mistyped or truncated secret), at most a quarter of it.
 */
export function gatewayKeyPrefix(key: string): string {
  if (key.length >= GATEWAY_KEY_LENGTH) return key.slice(0, GATEWAY_KEY_PREFIX_LENGTH);
  return key.slice(0, Math.min(GATEWAY_KEY_PREFIX_LENGTH, Math.floor(key.length / 4)));
}

const GATEWAY_KEY_SHAPE = new RegExp(`^${GATEWAY_KEY_TYPE_PREFIX}[0-9A-Za-z]{${GATEWAY_KEY_LENGTH - GATEWAY_KEY_TYPE_PREFIX.length}}$`);

/** Whether `key` has a gateway key's shape: the type prefix, then letters and digits to the full length. */
export function hasGatewayKeyShape(key: string): boolean {
  return GATEWAY_KEY_SHAPE.test(key);
}
