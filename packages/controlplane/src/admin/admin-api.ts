// The admin HTTP API (DESIGN §4): JSON under /api/v2/, authenticated by an owner's API key.
// The daemon routes every /api/v2/ path here from its HTTP/1.1 and HTTP/2 (h2c) servers, so
// requests arrive as http.IncomingMessage or http2 compat objects; only their common surface is
// used (plus, after a 413, the HTTP/2 stream to reset). Per request: route
// (404/405 before authentication: the route table is public), authenticate (401/403), run the
// handler, map any error in ONE place (error-response.ts), count, log.
import { constants as http2Constants, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Stream } from "node:http2";
import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Database } from "../db/schema.js";
import { generateApiKey, type GeneratedApiKey } from "../keys/api-key.js";
import { generateGatewayKey, type GeneratedGatewayKey } from "../keys/gateway-key.js";
import { redactKeys } from "../keys/redact.js";
import { apiKeyRoutes } from "./api-keys-routes.js";
import { authenticateOwner } from "./authenticate.js";
import { errorReply, INTERNAL_ERROR_MESSAGE } from "./error-response.js";
import { isUnauthenticatedError, MethodNotAllowedError, RouteNotFoundError } from "./errors.js";
import { gatewayKeyRoutes } from "./gateway-keys-routes.js";
import { interceptionRoutes } from "./interceptions-routes.js";
import { mcpRoutes } from "./mcp-routes.js";
import { createAdminMetrics } from "./metrics.js";
import { describeError } from "../db/postgres-error.js";
import { LogThrottle } from "../log-throttle.js";
import { oneLineError } from "../one-line-error.js";
import { writeReply, type AdminResponse, type ErrorBody, type Reply } from "./reply.js";
import { MAX_BODY_BYTES, readJsonBody, type AdminRequest } from "./request-body.js";
import type { AdminRouteHandler, RouteContext, RouteDeps } from "./route-context.js";
import { createRouter } from "./router.js";
import { userRoutes } from "./users-routes.js";

/** Every path under this prefix belongs to the admin API. */
export const ADMIN_API_PATH_PREFIX = "/api/v2/";

export interface AdminApiDeps {
  readonly db: Kysely<Database>;
  readonly logger: Logger;
  /** Decides API key expiry and stamps API keys (default: the wall clock). */
  readonly clock?: () => Date;
  /** When given, `weir_controlplane_admin_requests_total{route,method,status}` is counted in it. */
  readonly registry?: Registry;
  /** Tests only: replaces the gateway-key generator (e.g. to force prefix collisions). */
  readonly generateGatewayKey?: () => GeneratedGatewayKey;
  /** Tests only: replaces the user-API-key generator. */
  readonly generateApiKey?: () => GeneratedApiKey;
}

/** What is known about a request as it is answered: its route label and its logger. */
interface RequestState {
  route: string;
  logger: Logger;
}

export interface AdminApi {
  /** Answers one request under ADMIN_API_PATH_PREFIX. Never rejects. */
  handle(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): Promise<void>;
}

export function createAdminApi(deps: AdminApiDeps): AdminApi {
  const clock = deps.clock ?? (() => new Date());
  const routeDeps: RouteDeps = {
    db: deps.db,
    clock,
    generateApiKey: deps.generateApiKey ?? generateApiKey,
    generateGatewayKey: deps.generateGatewayKey ?? generateGatewayKey,
  };
  const router = createRouter<AdminRouteHandler>([
    ...userRoutes(routeDeps),
    ...apiKeyRoutes(routeDeps),
    ...gatewayKeyRoutes(routeDeps),
    ...mcpRoutes(routeDeps),
    ...interceptionRoutes(routeDeps),
  ]);
  const metrics = createAdminMetrics(deps.registry);
  const outageLog = new LogThrottle(5_000);

  /** Routes, authenticates and runs one request; records the route and logger in `state`. */
  async function answer(req: AdminRequest, method: string, path: string, query: URLSearchParams, state: RequestState): Promise<Reply> {
    let failureMessage = INTERNAL_ERROR_MESSAGE;
    try {
      if (!path.startsWith(ADMIN_API_PATH_PREFIX)) throw new RouteNotFoundError();
      // HEAD is GET without the body (RFC 9110 §9.3.2): same route, status and headers.
      const match = router.match(method === "HEAD" ? "GET" : method, path);
      if (match.kind === "not_found") throw new RouteNotFoundError();
      if (match.kind === "method_not_allowed") {
        state.route = match.pattern;
        // Wherever GET is served, HEAD is too.
        throw new MethodNotAllowedError(match.allow.includes("GET") ? [...match.allow, "HEAD"].sort() : match.allow);
      }
      state.route = match.route.pattern;
      failureMessage = match.route.handler.failureMessage;
      const actor = await authenticateOwner(deps.db, req.headers, clock());
      state.logger = state.logger.child({ user_id: actor.userId, actor_key_id: actor.apiKeyId });
      const ctx: RouteContext = {
        params: match.params,
        query,
        actor,
        logger: state.logger,
        readJson: () => readJsonBody(req, MAX_BODY_BYTES),
      };
      return await match.route.handler.run(ctx);
    } catch (err) {
      const reply = errorReply(err, failureMessage);
      if (reply.status === 503) {
        // An outage fails every request alike: one line per 5 s and kind.
        const held = outageLog.take((reply.body as ErrorBody).message);
        if (held !== undefined) state.logger.warn({ err: oneLineError(err), answer: (reply.body as ErrorBody).message, held_back: held }, "admin request failed");
      } else if (reply.status >= 500) state.logger.error({ err: describeError(err) }, "admin request failed");
      else if (isUnauthenticatedError(err)) state.logger.info({ reason: err.reason, ...(err.apiKeyId === undefined ? {} : { api_key_id: err.apiKeyId }) }, "admin request not authenticated");
      return reply;
    }
  }

  return {
    async handle(rawReq, rawRes) {
      const req = rawReq as unknown as AdminRequest;
      const res = rawRes as unknown as AdminResponse;
      const started = performance.now();
      const method = (req.method ?? "GET").toUpperCase();
      const target = req.url ?? "/";
      const q = target.indexOf("?");
      const path = q === -1 ? target : target.slice(0, q);
      const query = new URLSearchParams(q === -1 ? "" : target.slice(q + 1));
      // The query string is not logged: filters only today, but it is the client's text. The path
      // is logged with any full key in it masked (SECURITY: e.g. a key pasted as a key id).
      const state: RequestState = { route: "unmatched", logger: deps.logger.child({ method, path: redactKeys(path) }) };
      let reply = await answer(req, method, path, query, state);
      if (reply.status === 413) reply = stopReading(rawReq, rawRes, reply);
      try {
        if (!res.headersSent) writeReply(res, reply, { headOnly: method === "HEAD" });
      } catch (err) {
        state.logger.warn({ err: describeError(err) }, "admin response not written");
      }
      metrics.countRequest(state.route, method, reply.status);
      const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
      state.logger.info({ route: state.route, status: reply.status, duration_ms: durationMs }, "admin request");
    },
  };
}

/**
 * After a 413 the rest of an oversized body is not read: an HTTP/1.1 connection is closed once
 * the answer is written (`Connection: close`), an HTTP/2 stream is reset with NO_ERROR after it
 * (RFC 9113 §8.1: the server answered before the request was complete).
 */
function stopReading(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, reply: Reply): Reply {
  if (req.httpVersionMajor < 2) return { ...reply, headers: { ...reply.headers, connection: "close" } };
  const stream: ServerHttp2Stream = (req as Http2ServerRequest).stream;
  res.once("finish", () => {
    if (!stream.closed && !stream.destroyed) stream.close(http2Constants.NGHTTP2_NO_ERROR);
  });
  return reply;
}
