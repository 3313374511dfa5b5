// The gateway's HTTP listener logic (DESIGN §6, reference §6 "ServeHTTP steps"): health and
// metrics endpoints, routing, credential extraction, BYOK guard, IsAuthorized, handler pool,
// and the ONE place errors become HTTP responses. Also tracks in-flight requests for
// graceful shutdown.

import type { IncomingMessage, ServerResponse } from "node:http";
import { isUuid } from "@weir/proto";
import type { Logger } from "pino";
import { Cancellation } from "./cancellation.js";
import type { AuthorizedUser, ControlPlaneClient, UserCredential } from "./control-plane-client.js";
import { GOVERNANCE_REQUEST_ID_HEADER, extractAuthToken, ownProviderCredential } from "./credentials.js";
import { takeDelegation } from "./delegation.js";
import {
  AtCapacityError,
  ByokNotAllowedError,
  ClientDisconnectedError,
  GatewayShuttingDownError,
  HandlerAcquireError,
  InvalidOwnerIdError,
  NoCredentialError,
  RateLimitedError,
  RouteNotSupportedError,
  isByokNotAllowedError,
  isClientDisconnectedError,
  isControlPlaneUnavailableError,
  isInvalidOwnerIdError,
  isInvalidRequestBodyError,
  isUnsupportedRequestError,
  isNoCredentialError,
  isPoolShuttingDownError,
  isRateLimitedError,
  isRequestBodyTooLargeError,
  isRouteNotSupportedError,
  isUnauthorizedError,
  isUnsupportedContentEncodingError,
  toHttpError,
} from "./errors.js";
import { grantContinue } from "./expect-continue.js";
import type { HandlerPool } from "./handler-pool.js";
import { poolKey } from "./pool-key-index.js";
import type { GatewayMetrics } from "./metrics.js";
import type { GatewayOptions } from "./options.js";
import { RateLimiter, rateLimitKey } from "./rate-limiter.js";
import type { RequestHandler } from "./request-handler.js";
import { RequestLog } from "./request-log.js";
import { sendGatewayError } from "./response-writer.js";
import { originForm, providerOfPath, resolveRoute, splitTarget } from "./routes.js";
import { StartPacer } from "./start-pacer.js";


export const HEALTH_PATH = "/healthz";
export const READY_PATH = "/readyz";
export const METRICS_PATH = "/metrics";

export interface HttpFrontOptions {
  readonly options: GatewayOptions;
  readonly controlPlane: Pick<ControlPlaneClient, "authorize" | "ready">;
  readonly pool: HandlerPool<RequestHandler>;
  /** Builds a user's handler on a pool miss. */
  readonly buildHandler: (user: AuthorizedUser) => Promise<RequestHandler>;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  /**
   * Whether a request's socket is a delegating in-process connection: only there does a
   * delegated API key id count (delegation.ts). Unset: never.
   */
  readonly isDelegatingSocket?: (socket: unknown) => boolean;
}

export class HttpFront {
  /** The in-flight requests, each by its cancellation. */
  private readonly active = new Set<Cancellation>();
  private idleWaiters: (() => void)[] = [];
  private draining = false;
  private running = false;
  /** Per-credential requests per second (--rate-limit); undefined without a limit. */
  private readonly rateLimiter: RateLimiter | undefined;
  /** Spreads a burst of request starts over event-loop turns (options.startBudgetMs). */
  private readonly pacer: StartPacer;

  constructor(private readonly o: HttpFrontOptions) {
    const { rateLimit, clock } = o.options;
    this.rateLimiter = rateLimit > 0 ? new RateLimiter(rateLimit, () => clock.now()) : undefined;
    this.pacer = new StartPacer(o.options.startBudgetMs, () => o.metrics.requestsPacedTotal.inc());
  }

  /** The http.Server request listener. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    // Errors on a response whose client went away are expected; the request's own logic reports them.
    res.on("error", () => undefined);
    const method = req.method ?? "GET";
    const target = originForm(req.url ?? "/");
    const { path } = splitTarget(target);
    if (path === HEALTH_PATH || path === READY_PATH || path === METRICS_PATH) {
      this.serveOperations(res, method, path);
      return;
    }
    if (this.draining) {
      sendGatewayError(res, toHttpError(new GatewayShuttingDownError()), { connection: "close" }, providerOfPath(path));
      return;
    }
    // Outermost, as in the reference: a request beyond the limit costs no routing, no RPC.
    const maxConcurrency = this.o.options.maxConcurrency;
    if (maxConcurrency > 0 && this.active.size >= maxConcurrency) {
      this.o.metrics.requestsRefusedTotal.inc({ reason: "at_capacity" });
      this.o.logger.debug({ method, path, max_concurrency: maxConcurrency }, "at capacity: request refused");
      this.drainRefusedBody(req);
      sendGatewayError(res, toHttpError(new AtCapacityError(maxConcurrency)), {}, providerOfPath(path));
      return;
    }

    const exchange = new Cancellation();
    this.active.add(exchange);
    res.on("close", () => {
      if (!res.writableFinished) exchange.abort(new ClientDisconnectedError());
    });
    const requestId = req.headers[GOVERNANCE_REQUEST_ID_HEADER];
    const bindings: Record<string, string> = { method, path };
    if (typeof requestId === "string" && requestId !== "") bindings.request_id = requestId;
    delete req.headers[GOVERNANCE_REQUEST_ID_HEADER];
    const delegation = takeDelegation(req, this.o.isDelegatingSocket);
    const log = new RequestLog(this.o.logger, bindings);
    // SECURITY: a delegation header from the network is dropped; the request needs a real credential.
    if (delegation.ignored) log.warn("delegated api key id header ignored: not an in-process request");
    const startedAt = this.o.options.clock.now();

    const apiKeyId = delegation.apiKeyId;
    // The usual lone request starts here, without a closure for the pacer to hold.
    if (this.pacer.startsNow()) void this.serve(req, res, method, target, path, exchange, log, apiKeyId, startedAt);
    else this.pacer.later(() => void this.serve(req, res, method, target, path, exchange, log, apiKeyId, startedAt));
  };

  /** Ready to serve LLM traffic: running, not draining, and the control plane answers. */
  get ready(): boolean {
    return this.running && !this.draining && this.o.controlPlane.ready;
  }

  get activeRequests(): number {
    return this.active.size;
  }

  setRunning(running: boolean): void {
    this.running = running;
  }

  /** Refuses new LLM requests with 503 from now on. */
  beginDrain(): void {
    this.draining = true;
  }

  /** Resolves once no request is in flight. */
  waitIdle(): Promise<void> {
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Aborts every in-flight request with `reason`. */
  abortAll(reason: Error): void {
    for (const exchange of this.active) exchange.abort(reason);
  }

  /** Serves one request; a failure becomes its HTTP answer here (fail), and it leaves `active`. */
  private async serve(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    target: string,
    path: string,
    exchange: Cancellation,
    log: RequestLog,
    delegatedApiKeyId: string | undefined,
    startedAt: number,
  ): Promise<void> {
    try {
      // Unknown routes are refused before any credential check: no RPC, no upstream call. A HEAD
      // without credentials is a client's connectivity probe (Claude Code's, on the messages
      // route): it gets the reference's 400, whatever the path.
      const route = resolveRoute(method, target);
      if (route === undefined) {
        if (method === "HEAD" && delegatedApiKeyId === undefined && extractAuthToken(req.headers) === undefined) throw new NoCredentialError();
        throw new RouteNotSupportedError(method, path);
      }

      const credential = extractAuthToken(req.headers);
      // Per credential, before the BYOK guard and any RPC (reference order). A request without one
      // is refused below anyway.
      if (this.rateLimiter !== undefined) {
        const key = rateLimitKey(delegatedApiKeyId, credential?.token);
        const retryAfter = key === undefined ? 0 : this.rateLimiter.take(key);
        if (retryAfter > 0) {
          this.o.metrics.requestsRefusedTotal.inc({ reason: "rate_limited" });
          throw new RateLimitedError(this.rateLimiter.limit, retryAfter);
        }
      }
      // The governance header is the first place a credential is read from: present, it is BYOK.
      const governed = credential?.source === "governance_token";
      if (governed && !this.o.options.allowByok) throw new ByokNotAllowedError();
      // ... but with no provider credential of its own beside it, the central key is used, as the
      // reference does: the same user would get it by leaving the governance header out.
      const byokCredential = governed ? ownProviderCredential(req.headers, route.provider, credential.token) : undefined;
      const byok = byokCredential !== undefined;
      // A delegated in-process request authorizes by key id alone (reference: IsAuthorized{key_id}).
      // Its Authorization / X-Api-Key are then the user's provider key (BYOK) or unused; they are
      // stripped or forwarded by mode exactly like on any other request.
      const userCredential: UserCredential | undefined =
        delegatedApiKeyId !== undefined ? { keyId: delegatedApiKeyId } : credential && { key: credential.token };
      if (userCredential === undefined) throw new NoCredentialError();

      let user: AuthorizedUser;
      try {
        // SECURITY: the token goes to the control plane only; logs carry its source. A cached
        // answer comes without a promise; only a miss needs the exchange's AbortSignal.
        const answer = this.o.controlPlane.authorize(userCredential, () => exchange.signal);
        user = answer instanceof Promise ? await answer : answer;
      } catch (err) {
        this.o.metrics.authorizationsTotal.inc({
          outcome: isUnauthorizedError(err) ? "denied" : isControlPlaneUnavailableError(err) ? "unavailable" : "error",
        });
        throw err;
      }
      if (!isUuid(user.ownerId)) {
        this.o.metrics.authorizationsTotal.inc({ outcome: "denied" });
        throw new InvalidOwnerIdError();
      }
      this.o.metrics.authorizationsTotal.inc({ outcome: "allowed" });
      // Only an authorized request of an acceptable size is invited to send its body.
      grantContinue(req, res, this.o.options.maxRequestBodyBytes);

      let handler: RequestHandler;
      try {
        handler = await this.o.pool.acquire(poolKey(user.ownerId, user.apiKeyId), () => this.o.buildHandler(user));
      } catch (err) {
        if (isPoolShuttingDownError(err)) throw err;
        throw new HandlerAcquireError({ cause: err });
      }
      try {
        await handler.serve(route, {
          req,
          res,
          user,
          byok,
          byokCredential,
          presentedKey: credential?.token,
          cancellation: exchange,
          logger: log.with({
            route: route.route,
            auth_mode: byok ? "byok" : "centralized",
            credential_source: delegatedApiKeyId !== undefined ? "delegated" : credential?.source,
          }),
        });
      } finally {
        // A handler revoked while it served leaves the pool once its last request is done (the
        // pool checks whether any still runs).
        this.o.pool.release(handler);
      }
    } catch (err) {
      this.fail(req, res, method, path, err, log);
    } finally {
      log.debug({ status: res.statusCode, duration_ms: this.o.options.clock.now() - startedAt }, "request finished");
      this.active.delete(exchange);
      if (this.active.size === 0) this.notifyIdle();
    }
  }

  private fail(req: IncomingMessage, res: ServerResponse, method: string, path: string, err: unknown, log: RequestLog): void {
    const http = toHttpError(err);
    if (isNoCredentialError(err)) {
      // HEAD without credentials is a client's connectivity probe (Claude Code), not a problem.
      if (method === "HEAD") log.info(http.message);
      else log.warn(http.message);
    } else if (isRouteNotSupportedError(err)) {
      if (method === "HEAD") log.info(http.message);
      else log.warn(http.message);
    } else if (isUnauthorizedError(err)) {
      // SECURITY: the reason is logged, the key never.
      log.warn({ reason: err.reason }, "unauthorized");
    } else if (isInvalidOwnerIdError(err)) {
      log.warn({ reason: "invalid_owner_id" }, "unauthorized");
    } else if (isByokNotAllowedError(err) || isInvalidRequestBodyError(err) || isRequestBodyTooLargeError(err) || isUnsupportedContentEncodingError(err) || isUnsupportedRequestError(err)) {
      log.info({ err }, http.message);
    } else if (isRateLimitedError(err)) {
      log.debug(http.message);
    } else if (isPoolShuttingDownError(err)) {
      log.info(http.message);
    } else if (isControlPlaneUnavailableError(err)) {
      // The outage itself is logged at warn by the control-plane client ("control plane
      // unreachable", then each retry); each refused request is an info line without a stack, as
      // each served one is: at warn it was hundreds of lines a second for one outage.
      log.info(http.message);
    } else if (isClientDisconnectedError((err as { cause?: unknown } | undefined)?.cause) || (res.destroyed && !res.headersSent)) {
      log.info({ err }, "client went away before the request was served");
    } else {
      log.error({ err }, http.message);
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    this.drainRefusedBody(req);
    sendGatewayError(res, http, {}, providerOfPath(path));
  }

  /**
   * Reads and drops what is left of a refused request's body, so that the connection can serve
   * the next request and the client, still sending, reads the answer rather than a reset. Up to
   * the body limit more: beyond that the client is only sending (a 10 GB body with a bad key was
   * read whole), and the connection is closed (a client still sending then may see a reset
   * rather than the answer).
   */
  private drainRefusedBody(req: IncomingMessage): void {
    if (!req.complete) {
      const limit = this.o.options.maxRequestBodyBytes;
      let drained = 0;
      req.on("data", (chunk: Buffer) => {
        drained += chunk.length;
        if (drained > limit) req.socket.destroy();
      });
    }
    req.resume();
  }

  private text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": String(Buffer.byteLength(body)), ...headers });
    res.end(body);
  }

  /**
   * /healthz, /readyz and /metrics: GET, or HEAD (Node then sends the head alone), at any time,
   * draining included; no credential, no limits. Another method is a 405, not a health answer.
   */
  private serveOperations(res: ServerResponse, method: string, path: string): void {
    if (method !== "GET" && method !== "HEAD") {
      this.text(res, 405, "method not allowed\n", { allow: "GET, HEAD" });
      return;
    }
    if (path === HEALTH_PATH) {
      this.text(res, 200, "ok\n");
      return;
    }
    if (path === READY_PATH) {
      const ready = this.ready;
      this.text(res, ready ? 200 : 503, ready ? "ready\n" : "not ready: control plane not connected\n");
      return;
    }
    this.o.metrics.registry.metrics().then(
      (body) => {
        res.writeHead(200, { "content-type": this.o.metrics.registry.contentType });
        res.end(body);
      },
      (err: unknown) => {
        this.o.logger.error({ err }, "render metrics");
        sendGatewayError(res, toHttpError(err));
      },
    );
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
