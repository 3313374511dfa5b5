// Extra request handlers served on the control plane's own address under given path prefixes
// (ControlPlaneOptions.mounts). This is how a single-process deployment serves an embedded
// gateway's LLM routes next to the admin API without the control plane knowing anything about
// the gateway: the CLI composes the two and hands the gateway's handler in here. Only
// @weir/proto crosses between the daemons (DESIGN §1), so this stays generic: a handler and
// the prefixes it owns.
import type { Logger } from "pino";
import type { HttpRequest, HttpResponse } from "./connection-tracker.js";
import { redactKeys } from "../keys/redact.js";

/** A request handler mounted on the control plane's address. */
export interface MountedHandler {
  /**
   * Path prefixes this handler owns, each starting with "/" and normally ending with "/"
   * (e.g. "/api/v2/ai-gateway/openai/"). A request whose path starts with one of them goes to
   * `handler`; mounts are matched before the admin API and the RPC services, after /healthz,
   * /readyz and /metrics.
   */
  readonly prefixes: readonly string[];
  /**
   * Serves one request: an HTTP/1.1 request (http.IncomingMessage / ServerResponse) or an
   * HTTP/2 compatibility-API request (http2.Http2ServerRequest / Http2ServerResponse) — h2c
   * with prior knowledge, or h2 negotiated over TLS. It must answer every request it gets,
   * and owns its timeouts: the control plane's HTTP/1.1 idle timeout is lifted for the
   * connection (LLM answers can take minutes before the first byte). A synchronous throw
   * becomes a 500 (or a reset connection once the response has started).
   */
  readonly handler: (req: HttpRequest, res: HttpResponse) => void;
  /**
   * Serves a request whose client sent `Expect: 100-continue` and waits for the go-ahead before
   * sending its body: the handler sends it (`res.writeContinue()`) once it accepts the request,
   * or refuses without it. Unset: the control plane sends `100 Continue` at once and calls
   * `handler`.
   */
  readonly handlerAwaitingContinue?: (req: HttpRequest, res: HttpResponse) => void;
}

/** The mounts are unusable. */
export class InvalidMountError extends Error {
  override readonly name = "InvalidMountError";
}

/** Validates and freezes mounts. */
export function resolveMounts(mounts: readonly MountedHandler[] | undefined): readonly MountedHandler[] {
  return Object.freeze(
    (mounts ?? []).map((mount) => {
      if (typeof mount.handler !== "function") throw new InvalidMountError("a mount needs a handler function");
      if (mount.prefixes.length === 0) throw new InvalidMountError("a mount needs at least one path prefix");
      for (const prefix of mount.prefixes) {
        if (!prefix.startsWith("/") || prefix === "/") throw new InvalidMountError(`mount prefix must start with "/" and not be "/": ${JSON.stringify(prefix)}`);
      }
      if (mount.handlerAwaitingContinue !== undefined && typeof mount.handlerAwaitingContinue !== "function") {
        throw new InvalidMountError("a mount's handlerAwaitingContinue must be a function");
      }
      return Object.freeze({ prefixes: Object.freeze([...mount.prefixes]), handler: mount.handler, handlerAwaitingContinue: mount.handlerAwaitingContinue });
    }),
  );
}

/** The mount owning `path`, if any. */
export function findMount(mounts: readonly MountedHandler[], path: string): MountedHandler | undefined {
  return mounts.find((mount) => mount.prefixes.some((prefix) => path.startsWith(prefix)));
}

// The http and http2-compat response types share these members; their overloads do not unify.
interface MinimalResponse {
  readonly headersSent: boolean;
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  end(body?: string): unknown;
  destroy(err?: Error): unknown;
}

/** Hands a request to its mount (to `handlerAwaitingContinue` when its client awaits 100 Continue). */
export function serveMounted(mount: MountedHandler, req: HttpRequest, res: HttpResponse, path: string, logger: Logger, awaitingContinue = false): void {
  // The HTTP/1.1 idle timeout guards admin and probe traffic; a mounted handler may keep a
  // request open much longer (a slow LLM answer), so it is lifted for this connection. Node
  // re-arms its keep-alive timeout once the response is done.
  if (req.httpVersionMajor === 1) req.socket.setTimeout(0);
  try {
    if (awaitingContinue && mount.handlerAwaitingContinue !== undefined) mount.handlerAwaitingContinue(req, res);
    else mount.handler(req, res);
  } catch (err) {
    logger.error({ err, method: req.method, path: redactKeys(path) }, "mounted handler threw");
    const r = res as unknown as MinimalResponse;
    if (r.headersSent) {
      r.destroy();
      return;
    }
    const body = JSON.stringify({ message: "Internal error." });
    r.writeHead(500, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
    r.end(body);
  }
}
