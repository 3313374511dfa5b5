// The ONE place where control-plane domain errors become Connect codes (CONVENTIONS "Errors").
// Services throw domain errors; registerServices wraps every method with mapServiceErrors, and
// the gateway-auth interceptor converts its refusals here too. Anything unrecognised becomes
// Internal with a generic message; the cause is logged, never sent.
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { CONTROL_PLANE_BUSY_MESSAGE, IsAuthorizedFailureSchema } from "@weir/proto";
import type { Logger } from "pino";
import { isApiKeyRefusedError, type ApiKeyFailureReason } from "../auth/verify-api-key.js";
import { oneLineError } from "../one-line-error.js";
import { isDatabaseUnavailableError, isPoolExhaustedError } from "../db/postgres-error.js";
import { LogThrottle } from "../log-throttle.js";
import {
  isAlreadyExistsError,
  isAuthorizationChangesUnavailableError,
  isAmbiguousCredentialError,
  isDelegationNotAllowedError,
  isGatewayKeyLookupError,
  isGatewayKeyRefusedError,
  isIncompatibleApiVersionError,
  isInvalidArgumentError,
  isNotFoundError,
} from "../errors.js";

/** Every reason an IsAuthorized call can fail with; sent as an IsAuthorizedFailure detail. */
export type AuthorizationFailureReason = ApiKeyFailureReason | "ambiguous" | "delegation_not_allowed";

/** How each authorization failure is classified (documented on the Authorizer service). */
export const AUTHORIZATION_FAILURE_CODES: Readonly<Record<AuthorizationFailureReason, Code>> = Object.freeze({
  ambiguous: Code.InvalidArgument,
  invalid_key: Code.Unauthenticated,
  unknown_key: Code.Unauthenticated,
  expired: Code.Unauthenticated,
  unknown_user: Code.PermissionDenied,
  deleted_user: Code.PermissionDenied,
  inactive_user: Code.PermissionDenied,
  system_user: Code.PermissionDenied,
  delegation_not_allowed: Code.PermissionDenied,
});

/** The generic message of every Internal error; details stay in the log. */
export const INTERNAL_ERROR_MESSAGE = "internal error";

/** Sent with Unavailable when the control plane cannot reach its database (gateways retry, answer 503). */
export const DATABASE_UNAVAILABLE_MESSAGE = "the control plane's database is unavailable";


// During an outage every RPC fails the same way: one line per 5 s, without a stack.
const databaseOutageLog = new LogThrottle(5_000);

function authorizationFailure(message: string, reason: AuthorizationFailureReason): ConnectError {
  return new ConnectError(message, AUTHORIZATION_FAILURE_CODES[reason], undefined, [
    { desc: IsAuthorizedFailureSchema, value: { reason } },
  ]);
}

/** Converts anything thrown while serving an RPC into the ConnectError the caller receives. */
export function toConnectError(err: unknown, logger: Logger): ConnectError {
  if (err instanceof ConnectError) return err;
  if (isInvalidArgumentError(err)) return new ConnectError(err.message, Code.InvalidArgument);
  if (isNotFoundError(err)) return new ConnectError(err.message, Code.NotFound);
  if (isAlreadyExistsError(err)) return new ConnectError(err.message, Code.AlreadyExists);
  if (isApiKeyRefusedError(err)) return authorizationFailure(err.message, err.reason);
  if (isAmbiguousCredentialError(err)) return authorizationFailure(err.message, err.reason);
  if (isDelegationNotAllowedError(err)) return authorizationFailure(err.message, err.reason);
  if (isGatewayKeyRefusedError(err)) return new ConnectError(err.message, Code.Unauthenticated);
  if (isIncompatibleApiVersionError(err)) return new ConnectError(err.message, Code.FailedPrecondition);
  if (isAuthorizationChangesUnavailableError(err)) return new ConnectError(err.message, Code.Unavailable);
  if (isPoolExhaustedError(err)) {
    const held = databaseOutageLog.take("busy");
    if (held !== undefined) logger.warn({ err: oneLineError(err), held_back: held }, "rpc failed: no free database connection");
    // Overloaded, not gone: gateways answer 503 without declaring it unreachable (which would
    // take every replica out of its load balancer at once), and retry their records.
    return new ConnectError(CONTROL_PLANE_BUSY_MESSAGE, Code.ResourceExhausted);
  }
  if (isDatabaseUnavailableError(err)) {
    const held = databaseOutageLog.take("rpc");
    if (held !== undefined) logger.warn({ err: oneLineError(err), held_back: held }, "rpc failed: database unavailable");
    return new ConnectError(DATABASE_UNAVAILABLE_MESSAGE, Code.Unavailable);
  }
  if (isGatewayKeyLookupError(err)) {
    logger.error({ err: err.cause }, "gateway key lookup failed");
    return new ConnectError(err.message, Code.Internal);
  }
  // SECURITY: the cause (SQL, connection strings, stack) is logged, never returned.
  logger.error({ err }, "rpc failed");
  return new ConnectError(INTERNAL_ERROR_MESSAGE, Code.Internal);
}

/**
 * Wraps every method of a service implementation so whatever it throws goes through
 * toConnectError — for server-streaming methods also whatever the stream throws while it is
 * being read. Methods are looked up on the instance, so class methods work.
 */
export function mapServiceErrors<S extends DescService>(service: S, impl: ServiceImpl<S>, logger: Logger): ServiceImpl<S> {
  const wrapped: Record<string, unknown> = {};
  for (const method of service.methods) {
    const fn = (impl as unknown as Record<string, (req: unknown, ctx: unknown) => unknown>)[method.localName];
    if (typeof fn !== "function") continue;
    const log = logger.child({ rpc_service: service.typeName, rpc_method: method.name });
    if (method.methodKind === "server_streaming") {
      wrapped[method.localName] = async function* (req: unknown, ctx: unknown) {
        try {
          yield* fn.call(impl, req, ctx) as AsyncIterable<unknown>;
        } catch (err) {
          throw toConnectError(err, log);
        }
      };
      continue;
    }
    wrapped[method.localName] = async (req: unknown, ctx: unknown) => {
      try {
        return await fn.call(impl, req, ctx);
      } catch (err) {
        throw toConnectError(err, log);
      }
    };
  }
  return wrapped as ServiceImpl<S>;
}
