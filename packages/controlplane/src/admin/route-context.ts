// What every admin route handler receives, and what the route table is made of.
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { VerifiedApiKey } from "../auth/verify-api-key.js";
import type { Database } from "../db/schema.js";
import type { GeneratedApiKey } from "../keys/api-key.js";
import type { GeneratedGatewayKey } from "../keys/gateway-key.js";
import { InvalidRequestError } from "./errors.js";
import type { Reply } from "./reply.js";
import type { Route } from "./router.js";
import { isUuid } from "@weir/proto";

/** One authenticated request, as a handler sees it. */
export interface RouteContext {
  /** Decoded `{param}` values of the matched pattern. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The authenticated owner. */
  readonly actor: VerifiedApiKey;
  /** Carries method, path and the actor's user id. */
  readonly logger: Logger;
  /** The parsed JSON body; undefined for an empty body. Reading is bounded (413). */
  readJson(): Promise<unknown>;
}

export interface AdminRouteHandler {
  /** The 500 message when the handler fails unexpectedly (e.g. "Failed to list keys."). */
  readonly failureMessage: string;
  run(ctx: RouteContext): Promise<Reply>;
}

export type AdminRoute = Route<AdminRouteHandler>;

/** What the route modules need. */
export interface RouteDeps {
  readonly db: Kysely<Database>;
  readonly clock: () => Date;
  readonly generateApiKey: () => GeneratedApiKey;
  readonly generateGatewayKey: () => GeneratedGatewayKey;
}

/** A `{param}` that must be a UUID; 400 with `message` otherwise. */
export function uuidParam(ctx: RouteContext, name: string, message: string): string {
  const value = ctx.params[name] ?? "";
  if (!isUuid(value)) throw new InvalidRequestError(message);
  return value.toLowerCase();
}
