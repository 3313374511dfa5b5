// Domain errors of the admin API. Each has a fixed `name` and a guard; the ONE place that turns
// them (and everything else) into HTTP responses is error-response.ts.

/** One rejected field of a request: `{field, detail}` in error bodies. */
export interface FieldValidation {
  readonly field: string;
  readonly detail: string;
}

/** The request is malformed or refused as invalid (400). Message and detail are safe to send. */
export class InvalidRequestError extends Error {
  override readonly name = "InvalidRequestError";
  readonly detail: string | undefined;
  readonly validations: readonly FieldValidation[] | undefined;
  constructor(message: string, options: { detail?: string; validations?: readonly FieldValidation[] } = {}) {
    super(message);
    this.detail = options.detail;
    this.validations = options.validations;
  }
}
export function isInvalidRequestError(err: unknown): err is InvalidRequestError {
  return err instanceof Error && err.name === "InvalidRequestError";
}

/** A named resource does not exist (404). The message names the kind, e.g. "Key not found.". */
export class ResourceNotFoundError extends Error {
  override readonly name = "ResourceNotFoundError";
}
export function isResourceNotFoundError(err: unknown): err is ResourceNotFoundError {
  return err instanceof Error && err.name === "ResourceNotFoundError";
}

/** The constant message of every authentication failure; the reason is logged, never sent. */
export const UNAUTHENTICATED_MESSAGE = "You must be authenticated to use this endpoint.";

/** No credential, or one verifyApiKey refused (401). */
export class UnauthenticatedError extends Error {
  override readonly name = "UnauthenticatedError";
  constructor(
    /** Why, for the log: "missing" or an ApiKeyFailureReason. */
    readonly reason: string,
    /** The refused key's id, when it was shaped like a key (never its secret). */
    readonly apiKeyId?: string,
  ) {
    super(UNAUTHENTICATED_MESSAGE);
  }
}
export function isUnauthenticatedError(err: unknown): err is UnauthenticatedError {
  return err instanceof Error && err.name === "UnauthenticatedError";
}

/** An authenticated caller may not do this (403). */
export class ForbiddenError extends Error {
  override readonly name = "ForbiddenError";
  constructor(message = "Forbidden.") {
    super(message);
  }
}
export function isForbiddenError(err: unknown): err is ForbiddenError {
  return err instanceof Error && err.name === "ForbiddenError";
}

/** The request conflicts with the current state of a resource (409). Message and detail are safe to send. */
export class ConflictError extends Error {
  override readonly name = "ConflictError";
  readonly detail: string | undefined;
  constructor(message: string, options: { detail?: string } = {}) {
    super(message);
    this.detail = options.detail;
  }
}
export function isConflictError(err: unknown): err is ConflictError {
  return err instanceof Error && err.name === "ConflictError";
}

/** The request body exceeds the limit (413). */
export class BodyTooLargeError extends Error {
  override readonly name = "BodyTooLargeError";
  constructor(readonly limitBytes: number) {
    super("Request body too large.");
  }
}
export function isBodyTooLargeError(err: unknown): err is BodyTooLargeError {
  return err instanceof Error && err.name === "BodyTooLargeError";
}

/** The client went away (or the stream failed) before its body was complete (400; rarely seen). */
export class RequestAbortedError extends Error {
  override readonly name = "RequestAbortedError";
  constructor(options?: { cause?: unknown }) {
    super("Request body incomplete.", options);
  }
}
export function isRequestAbortedError(err: unknown): err is RequestAbortedError {
  return err instanceof Error && err.name === "RequestAbortedError";
}

/** No route matches the path (404). */
export class RouteNotFoundError extends Error {
  override readonly name = "RouteNotFoundError";
  constructor() {
    super("Route not found.");
  }
}
export function isRouteNotFoundError(err: unknown): err is RouteNotFoundError {
  return err instanceof Error && err.name === "RouteNotFoundError";
}

/** The path exists but not with this method (405, with `Allow`). */
export class MethodNotAllowedError extends Error {
  override readonly name = "MethodNotAllowedError";
  constructor(readonly allow: readonly string[]) {
    super("Method not allowed.");
  }
}
export function isMethodNotAllowedError(err: unknown): err is MethodNotAllowedError {
  return err instanceof Error && err.name === "MethodNotAllowedError";
}
