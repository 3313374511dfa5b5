// The per-user request handler the pool holds (reference §6 "RequestBridge"): the user's
// identity and log bindings, and the entry point that serves one of their requests. There is
// no MCP injection yet, so this stays small; per-user setup hooks in through onHandlerCreate.

import type { AuthorizedUser } from "./control-plane-client.js";
import { serveInterception } from "./interception.js";
import type { ExchangeContext, ExchangeDeps } from "./interception.js";
import { servePassthrough } from "./passthrough.js";
import { PROVIDER_APIS } from "./providers/index.js";
import type { RouteMatch } from "./routes.js";

/** Serves the requests of one user API key. */
export class RequestHandler {
  /** Log fields every request of this user carries. */
  readonly logBindings: Readonly<Record<string, string>>;
  /** Requests being served now; the pool's idle sweep keeps a handler while any is. */
  private serving = 0;

  constructor(
    readonly user: AuthorizedUser,
    private readonly deps: ExchangeDeps,
    readonly createdAtMs: number,
  ) {
    this.logBindings = Object.freeze({ user_id: user.ownerId, api_key_id: user.apiKeyId });
  }

  /**
   * Serves one request on `route`. `ctx.user` is the identity IsAuthorized just returned for
   * this handler's key (fresher than the one the handler was built with, e.g. a renamed user).
   */
  async serve(route: RouteMatch, ctx: ExchangeContext): Promise<void> {
    const full: ExchangeContext = { ...ctx, logger: ctx.logger.with(this.logBindings) };
    this.serving += 1;
    try {
      if (route.kind === "passthrough") await servePassthrough(full, route, this.deps);
      else await serveInterception(full, route, PROVIDER_APIS[route.api], this.deps);
    } finally {
      this.serving -= 1;
    }
  }

  /** Whether a request of this handler is being served now. */
  get inUse(): boolean {
    return this.serving > 0;
  }
}

export interface RequestHandlerFactoryOptions {
  readonly deps: ExchangeDeps;
  /** Per-user set-up run before the handler is handed out; a rejection fails the acquire. */
  readonly onCreate?: ((user: AuthorizedUser) => void | Promise<void>) | undefined;
}

/** Builds a user's handler (what the pool calls on a miss). */
export async function createRequestHandler(user: AuthorizedUser, options: RequestHandlerFactoryOptions): Promise<RequestHandler> {
  await options.onCreate?.(user);
  return new RequestHandler(user, options.deps, options.deps.options.clock.now());
}
