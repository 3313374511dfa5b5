// The ONE place where admin-API errors become HTTP responses. Anything that is not a domain error
// (a database failure, a bug) becomes a 500 whose message is the route's fixed failure message
// (e.g. "Failed to list keys.") with no detail; the caller logs the cause.
import {
  isBodyTooLargeError,
  isConflictError,
  isForbiddenError,
  isInvalidRequestError,
  isMethodNotAllowedError,
  isRequestAbortedError,
  isResourceNotFoundError,
  isRouteNotFoundError,
  isUnauthenticatedError,
} from "./errors.js";
import { QUERY_CANCELED, isDatabaseUnavailableError, isPoolExhaustedError, postgresErrorCode } from "../db/postgres-error.js";
import type { ErrorBody, Reply } from "./reply.js";

/** The 503 message while the database cannot be reached. */
export const DATABASE_UNAVAILABLE_MESSAGE = "The database is unavailable. Try again later.";

/** The 503 message when the server cancelled a statement that ran past the admin timeout. */
export const QUERY_TOO_LONG_MESSAGE = "The request took too long. Narrow it down with filters or a smaller limit.";

/** The 503 message when every connection of the admin API's pool stayed busy. */
export const ADMIN_BUSY_MESSAGE = "Too many admin requests are running. Try again later.";

/** The 500 message when a route names none of its own. */
export const INTERNAL_ERROR_MESSAGE = "An internal error occurred.";

export function errorReply(err: unknown, failureMessage: string): Reply {
  if (isInvalidRequestError(err)) {
    const body: ErrorBody = {
      message: err.message,
      ...(err.detail !== undefined ? { detail: err.detail } : {}),
      ...(err.validations !== undefined ? { validations: err.validations } : {}),
    };
    return { status: 400, body };
  }
  if (isRequestAbortedError(err)) return { status: 400, body: { message: err.message } satisfies ErrorBody };
  if (isUnauthenticatedError(err)) return { status: 401, body: { message: err.message } satisfies ErrorBody };
  if (isForbiddenError(err)) return { status: 403, body: { message: err.message } satisfies ErrorBody };
  if (isResourceNotFoundError(err) || isRouteNotFoundError(err)) return { status: 404, body: { message: err.message } satisfies ErrorBody };
  if (isMethodNotAllowedError(err)) {
    return { status: 405, body: { message: err.message } satisfies ErrorBody, headers: { allow: err.allow.join(", ") } };
  }
  if (isConflictError(err)) {
    return { status: 409, body: { message: err.message, ...(err.detail !== undefined ? { detail: err.detail } : {}) } satisfies ErrorBody };
  }
  if (isBodyTooLargeError(err)) return { status: 413, body: { message: err.message } satisfies ErrorBody };
  if (isPoolExhaustedError(err)) return { status: 503, body: { message: ADMIN_BUSY_MESSAGE } satisfies ErrorBody };
  if (postgresErrorCode(err) === QUERY_CANCELED) return { status: 503, body: { message: QUERY_TOO_LONG_MESSAGE } satisfies ErrorBody };
  if (isDatabaseUnavailableError(err)) return { status: 503, body: { message: DATABASE_UNAVAILABLE_MESSAGE } satisfies ErrorBody };
  return { status: 500, body: { message: failureMessage } satisfies ErrorBody };
}
