// Domain errors of the control plane's RPC side. Each has a fixed `name` and a guard; the ONE
// place that turns them into Connect codes is rpc/connect-errors.ts. Anything that is not one of
// these (or an ApiKeyRefusedError from auth/verify-api-key.ts) becomes Internal with a generic
// message there, its cause logged, never sent.

/** A request field is missing or malformed. The message names the field and is safe to send. */
export class InvalidArgumentError extends Error {
  override readonly name = "InvalidArgumentError";
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`invalid ${field}: ${problem}`);
  }
}
export function isInvalidArgumentError(err: unknown): err is InvalidArgumentError {
  return err instanceof Error && err.name === "InvalidArgumentError";
}

/** A record refers to something that does not exist (e.g. an unknown interception). */
export class NotFoundError extends Error {
  override readonly name = "NotFoundError";
}
export function isNotFoundError(err: unknown): err is NotFoundError {
  return err instanceof Error && err.name === "NotFoundError";
}

/** A record with this id already exists. */
export class AlreadyExistsError extends Error {
  override readonly name = "AlreadyExistsError";
}
export function isAlreadyExistsError(err: unknown): err is AlreadyExistsError {
  return err instanceof Error && err.name === "AlreadyExistsError";
}

/** IsAuthorized got both `key` and `key_id`. */
export class AmbiguousCredentialError extends Error {
  override readonly name = "AmbiguousCredentialError";
  readonly reason = "ambiguous";
  constructor() {
    super("both key and key_id set; exactly one required");
  }
}
export function isAmbiguousCredentialError(err: unknown): err is AmbiguousCredentialError {
  return err instanceof Error && err.name === "AmbiguousCredentialError";
}

/** IsAuthorized got `key_id` from a caller that may not delegate (DESIGN §5). */
export class DelegationNotAllowedError extends Error {
  override readonly name = "DelegationNotAllowedError";
  readonly reason = "delegation_not_allowed";
  constructor() {
    super("delegated authorization (key_id) is not allowed for this gateway key");
  }
}
export function isDelegationNotAllowedError(err: unknown): err is DelegationNotAllowedError {
  return err instanceof Error && err.name === "DelegationNotAllowedError";
}

/** Messages of the gateway-key refusals, as the reference words them. */
export const GATEWAY_KEY_MESSAGES = Object.freeze({
  required: "AI Gateway key required.",
  invalid: "AI Gateway key invalid.",
  lookupFailed: "Failed to look up AI Gateway key.",
});

/** An RPC without a gateway key, or with one that matches no stored key. */
export class GatewayKeyRefusedError extends Error {
  override readonly name = "GatewayKeyRefusedError";
  constructor(readonly reason: "required" | "invalid") {
    super(GATEWAY_KEY_MESSAGES[reason]);
  }
}
export function isGatewayKeyRefusedError(err: unknown): err is GatewayKeyRefusedError {
  return err instanceof Error && err.name === "GatewayKeyRefusedError";
}

/** The gateway key could not be looked up (database failure). The cause is logged, never sent. */
export class GatewayKeyLookupError extends Error {
  override readonly name = "GatewayKeyLookupError";
  constructor(options?: { cause?: unknown }) {
    super(GATEWAY_KEY_MESSAGES.lookupFailed, options);
  }
}
export function isGatewayKeyLookupError(err: unknown): err is GatewayKeyLookupError {
  return err instanceof Error && err.name === "GatewayKeyLookupError";
}

/** The client's API version is missing, unparsable or not served; the message names both. */
export class IncompatibleApiVersionError extends Error {
  override readonly name = "IncompatibleApiVersionError";
  constructor(
    message: string,
    readonly clientVersion: string,
    readonly serverVersion: string,
  ) {
    super(message);
  }
}
export function isIncompatibleApiVersionError(err: unknown): err is IncompatibleApiVersionError {
  return err instanceof Error && err.name === "IncompatibleApiVersionError";
}

/**
 * The control plane cannot hear authorization changes right now (its database listener is
 * down), so it refuses (or ends) WatchAuthorizationChanges streams: a gateway must not cache
 * answers it would not hear about being revoked.
 */
export class AuthorizationChangesUnavailableError extends Error {
  override readonly name = "AuthorizationChangesUnavailableError";
  constructor(message = "authorization change notifications are unavailable") {
    super(message);
  }
}
export function isAuthorizationChangesUnavailableError(err: unknown): err is AuthorizationChangesUnavailableError {
  return err instanceof Error && err.name === "AuthorizationChangesUnavailableError";
}
