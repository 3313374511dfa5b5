// Serving HTTP/2 compatibility-API requests (an embedded gateway mounted on the control plane's
// address, which speaks h2c and h2 over TLS too) with the gateway's HTTP/1.1 request logic.
// The gateway's handler works on http.IncomingMessage / ServerResponse; the HTTP/2 objects
// differ in ways that matter (pseudo-headers in req.headers, no res.destroyed, connection-
// specific headers forbidden), so each HTTP/2 request is relayed over an in-memory HTTP/1.1
// connection (in-memory-connections.ts) to the same handler, streaming both ways. These
// connections are NOT delegating: a delegation header arriving over HTTP/2 is ignored like on
// any other network request.

import { once } from "node:events";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Logger } from "pino";
import { Pool } from "undici";
import type { Dispatcher } from "undici";
import { HOP_BY_HOP_HEADERS } from "./headers.js";
import type { InMemoryConnections } from "./in-memory-connections.js";
import { IN_PROCESS_ORIGIN } from "./in-process-client.js";

const BODYLESS_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD"]);
// Also connection-specific in HTTP/2 (RFC 9113 §8.2.2); Node refuses to send them.
// `expect`: answered here (100 Continue) before the relay; undici refuses a request carrying it.
const HTTP2_FORBIDDEN: ReadonlySet<string> = new Set([...HOP_BY_HOP_HEADERS, "proxy-connection", "expect"]);

/** Waits until `res` can take more data, or is closed. */
async function drainedOrClosed(res: Http2ServerResponse): Promise<void> {
  const done = new AbortController();
  try {
    await Promise.race([once(res, "drain", { signal: done.signal }), once(res, "close", { signal: done.signal })]);
  } finally {
    done.abort();
  }
}

export class Http2Bridge {
  private readonly pool: Pool;

  constructor(
    connections: InMemoryConnections,
    private readonly logger: Logger,
  ) {
    this.pool = new Pool(IN_PROCESS_ORIGIN, { connect: connections.connector(false) });
  }

  /** Relays one HTTP/2 request and its response. Never throws; failures end this request only. */
  serve(req: Http2ServerRequest, res: Http2ServerResponse): void {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || name.startsWith(":") || HTTP2_FORBIDDEN.has(name)) continue;
      headers[name] = value;
    }
    const authority = req.headers[":authority"];
    if (typeof authority === "string" && authority !== "") headers.host = authority;
    const abort = new AbortController();
    res.once("close", () => abort.abort());
    const method = req.method as Dispatcher.HttpMethod;
    this.pool
      .request({ path: req.url, method, headers, body: BODYLESS_METHODS.has(method) ? undefined : req, signal: abort.signal })
      .then(async (answer) => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers)) {
          if (value !== undefined && !HTTP2_FORBIDDEN.has(name)) out[name] = value;
        }
        res.writeHead(answer.statusCode, out);
        for await (const chunk of answer.body) {
          if (res.stream.destroyed) break;
          if (!res.write(chunk as Buffer)) await drainedOrClosed(res);
        }
        if (!res.stream.destroyed) res.end();
      })
      .catch((err: unknown) => {
        if (abort.signal.aborted) return; // the client went away; the gateway saw it too
        this.logger.warn({ err, method, path: req.url.split("?")[0] }, "relaying an HTTP/2 request failed");
        if (res.headersSent || res.stream.destroyed) {
          res.stream.destroy();
          return;
        }
        const body = JSON.stringify({ message: "internal server error" });
        res.writeHead(500, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) });
        res.end(body);
      });
  }

  /** Ends the relay's connections (after the gateway drained). */
  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
