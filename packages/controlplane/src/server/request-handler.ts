// Routing of the control plane's single address: /healthz, /readyz, /metrics, mounted handlers
// (mounts.ts) under their prefixes, the admin API under /api/v2/, and Connect RPC for
// everything else (whose fallback is the JSON 404).
import type { ControlPlaneMetrics } from "../metrics.js";
import type { Logger } from "pino";
import type { ConnectionTracker, HttpRequest, HttpResponse } from "./connection-tracker.js";
import type { GateResponse, GatewayKeyGate } from "../rpc/gateway-key-gate.js";
import { isBinaryRecordBatch } from "../rpc/record-batch-fast-path.js";
import { redactKeys } from "../keys/redact.js";
import { findMount, serveMounted, type MountedHandler } from "./mounts.js";

/** The admin HTTP API as the control plane mounts it (src/admin/admin-api.ts; it counts its own requests). */
export interface AdminApi {
  /** Serves any request whose path starts with /api/v2/. */
  handle(req: HttpRequest, res: HttpResponse): Promise<void>;
}

export type NodeRequestHandler = (req: HttpRequest, res: HttpResponse) => void;

export interface RequestHandlerOptions {
  /** The Connect adapter; it answers unknown paths through its fallback (notFound). */
  readonly rpc: NodeRequestHandler;
  /**
   * Serves binary RecordBatch calls instead of `rpc` (rpc/record-batch-fast-path.ts): the same
   * RPC, decoded without reflection. Unset: `rpc` serves them too.
   */
  readonly binaryRecordBatch?: NodeRequestHandler;
  /** Refuses an RPC without a known gateway key before its body is read (rpc/gateway-key-gate.ts). */
  readonly gatewayKeyGate?: GatewayKeyGate;
  readonly admin: AdminApi | undefined;
  readonly metrics: ControlPlaneMetrics;
  readonly tracker: ConnectionTracker;
  /** Whether the database answers. */
  readonly ready: () => Promise<boolean>;
  readonly logger: Logger;
  /** Extra handlers owning path prefixes (validated by resolveMounts). */
  readonly mounts?: readonly MountedHandler[];
}

export const NOT_FOUND_BODY = Object.freeze({ message: "Route not found." });
const ADMIN_PREFIX = "/api/v2/";

// The http and http2-compat response types share these members; their overloads do not unify.
interface MinimalResponse {
  readonly headersSent: boolean;
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  end(body?: string): unknown;
  destroy(err?: Error): unknown;
}

/** Writes a complete response. */
export function sendText(res: HttpResponse, status: number, contentType: string, body: string, headOnly = false, headers: Record<string, string> = {}): void {
  const r = res as unknown as MinimalResponse;
  r.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body), "cache-control": "no-store", ...headers });
  r.end(headOnly ? undefined : body);
}

export function sendJson(res: HttpResponse, status: number, body: unknown, headOnly = false, headers: Record<string, string> = {}): void {
  sendText(res, status, "application/json; charset=utf-8", JSON.stringify(body), headOnly, headers);
}

/** The 404 for any path nobody serves. */
export function notFound(_req: HttpRequest, res: HttpResponse): void {
  sendJson(res, 404, NOT_FOUND_BODY);
}

function pathOf(req: HttpRequest): string {
  try {
    return new URL(req.url ?? "/", "http://control-plane").pathname;
  } catch {
    return "/";
  }
}

/**
 * The control plane's request listener; `checkContinue` is its listener for requests whose
 * client awaits `100 Continue` (the servers' 'checkContinue' event).
 */
export type ControlPlaneRequestHandler = NodeRequestHandler & { readonly checkContinue: NodeRequestHandler };

export function createRequestHandler(options: RequestHandlerOptions): ControlPlaneRequestHandler {
  const { rpc, binaryRecordBatch, gatewayKeyGate, admin, metrics, tracker, ready } = options;
  const mounts = options.mounts ?? [];
  const logger = options.logger.child({ component: "http" });

  const probe = (req: HttpRequest, res: HttpResponse, serve: (headOnly: boolean) => Promise<void> | void): void => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendJson(res, 405, { message: "Method not allowed." }, false, { allow: "GET, HEAD" });
      return;
    }
    Promise.resolve(serve(req.method === "HEAD")).catch((err: unknown) => {
      logger.error({ err, path: redactKeys(pathOf(req)) }, "probe failed");
      if (!res.headersSent) sendJson(res, 500, { message: "Internal error." });
      else (res as unknown as MinimalResponse).destroy();
    });
  };

  const serveAdmin = (req: HttpRequest, res: HttpResponse): void => {
    if (!admin) {
      notFound(req, res);
      return;
    }
    admin.handle(req, res).catch((err: unknown) => {
      logger.error({ err, method: req.method, path: redactKeys(pathOf(req)) }, "admin request failed");
      if (!res.headersSent) sendJson(res, 500, { message: "Internal error." });
      else (res as unknown as MinimalResponse).destroy();
    });
  };

  const serve = (req: HttpRequest, res: HttpResponse, awaitingContinue: boolean): void => {
    tracker.trackRequest(req, res);
    const path = pathOf(req);
    const mount = mounts.length === 0 ? undefined : findMount(mounts, path);
    // A mount may hold the go-ahead back until it has accepted the request (the embedded
    // gateway: authorized, its declared size within the limit); everything else gets it now.
    if (awaitingContinue && mount?.handlerAwaitingContinue === undefined) res.writeContinue();
    switch (path) {
      case "/healthz":
        probe(req, res, (headOnly) => sendJson(res, 200, { status: "ok" }, headOnly));
        return;
      case "/readyz":
        probe(req, res, async (headOnly) => {
          const ok = await ready();
          sendJson(res, ok ? 200 : 503, ok ? { status: "ready" } : { status: "not ready", message: "database unavailable" }, headOnly);
        });
        return;
      case "/metrics":
        probe(req, res, async (headOnly) => {
          const { contentType, body } = await metrics.render();
          sendText(res, 200, contentType, body, headOnly);
        });
        return;
    }
    if (mount) {
      serveMounted(mount, req, res, path, logger, awaitingContinue);
      return;
    }
    if (path.startsWith(ADMIN_PREFIX) || path === "/api/v2") {
      serveAdmin(req, res);
      return;
    }
    const serveRpc = (): void => {
      if (binaryRecordBatch !== undefined && isBinaryRecordBatch(req.method, path, req.headers["content-type"])) binaryRecordBatch(req, res);
      else rpc(req, res);
    };
    if (gatewayKeyGate === undefined) {
      serveRpc();
      return;
    }
    gatewayKeyGate.check(path, req, res as unknown as GateResponse).then(
      (refused) => {
        if (!refused) serveRpc();
      },
      (err: unknown) => {
        logger.error({ err, path: redactKeys(path) }, "gateway key check failed");
        if (!(res as unknown as MinimalResponse).headersSent) sendJson(res, 500, { message: "Internal error." });
      },
    );
  };
  return Object.assign((req: HttpRequest, res: HttpResponse) => serve(req, res, false), {
    checkContinue: (req: HttpRequest, res: HttpResponse) => serve(req, res, true),
  });
}
