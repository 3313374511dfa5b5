// Passthrough routes (models, count_tokens): authorized and header-filtered like bridged
// routes, proxied for any method, but not recorded as interceptions.

import { providerErrorBody } from "./providers/error-envelope.js";
import { clientResponseHeaders, upstreamRequestHeaders } from "./headers.js";
import { noteKeyFailover } from "./interception.js";
import type { ExchangeContext, ExchangeDeps } from "./interception.js";
import { requestWithKeyFailover } from "./provider-key-pool.js";
import type { KeyInUse } from "./provider-key-pool.js";
import { readRequestBody } from "./request-body.js";
import { sendJson, writeChunk } from "./response-writer.js";
import { upstreamTarget } from "./routes.js";
import type { PassthroughRoute } from "./routes.js";
import type { UpstreamResponse } from "./upstream.js";
import { UpstreamDeadline } from "./upstream-deadline.js";

const BODYLESS_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD"]);

export async function servePassthrough(ctx: ExchangeContext, route: PassthroughRoute, deps: Pick<ExchangeDeps, "options" | "upstream" | "metrics" | "providerKeys">): Promise<void> {
  const { req, res } = ctx;
  const { options } = deps;
  const method = req.method ?? "GET";
  const body = BODYLESS_METHODS.has(method) ? undefined : await readRequestBody(req, options.maxRequestBodyBytes);
  const provider = options[route.provider];
  deps.metrics.passthroughTotal.inc({ provider: route.provider, route: route.route, method });

  const deadline = new UpstreamDeadline(ctx.cancellation, options.clock, options.upstreamTimeoutMs);
  try {
    let response: UpstreamResponse;
    const send = (key: string | undefined): Promise<UpstreamResponse> =>
      deps.upstream.request(upstreamTarget(provider.baseUrl, route.upstreamPath), {
        method,
        headers: upstreamRequestHeaders(req.headers, { provider: route.provider, kind: ctx.byok ? "byok" : "centralized", providerKey: key, weirKey: ctx.presentedKey }),
        body,
        cancellation: deadline.cancellation,
      });
    // The same central keys as recorded requests, failing over the same way.
    const keys = deps.providerKeys[route.provider];
    const inUse: KeyInUse = { key: ctx.byok ? undefined : keys.pick() };
    try {
      response = await requestWithKeyFailover(keys, inUse, send, (refused, next) => {
        deadline.touch();
        noteKeyFailover(deps, ctx, route, refused, next);
      });
      deadline.touch();
    } catch (err) {
      const failure = deadline.failure(err);
      ctx.logger.warn({ err, error_type: failure.type }, "passthrough upstream request failed");
      const status = failure.type === "timeout" ? 504 : 502;
      if (failure.type !== "client_disconnected") sendJson(res, status, providerErrorBody(route.provider, status, failure.clientMessage));
      return;
    }
    res.writeHead(response.statusCode, clientResponseHeaders(response.headers, ctx.byok ? "byok" : "centralized"));
    try {
      for await (const chunk of response.body) {
        deadline.touch();
        const written = writeChunk(res, chunk as Buffer, deadline.cancellation);
        // Waiting for the client is not the provider's silence (see UpstreamDeadline.waitForClient).
        if (written === false || (written !== true && !(await deadline.waitForClient(written)))) {
          if (!res.destroyed) res.destroy();
          break;
        }
      }
      if (!res.destroyed) res.end();
    } catch (err) {
      ctx.logger.warn({ err, error_type: deadline.failure(err).type }, "passthrough response broke off");
      res.destroy();
    }
  } finally {
    deadline.dispose();
  }
}
