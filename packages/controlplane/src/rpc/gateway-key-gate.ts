// The gateway key, checked before an RPC's body is read. Connect reads, decompresses and parses
// a request's message before any interceptor runs, so without this a client with no key could
// make the control plane decode up to readMaxBytes of records (2 million empty ones in 4 MiB)
// per request, freezing its event loop, gateways' RPCs included, for seconds each. A request
// whose key is missing or unknown is answered here, in its own protocol's shape, with the
// messages the interceptor gives; the body is never read. The key it finds goes on with the
// request (accepted()), so the interceptor only checks the version: one lookup per RPC, made
// at its start, as before. A lookup failure here is left to the interceptor to report.
import { Code, ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, createEndStreamSerialization, endStreamFlag, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { Authorizer, GATEWAY_KEY_HEADER, MCPConfigurator, Recorder } from "@weir/proto";
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { Database } from "../db/schema.js";
import type { ControlPlaneMetrics } from "../metrics.js";
import { isGatewayKeyRefusedError } from "../errors.js";
import { gatewayKeyPrefix } from "../keys/gateway-key.js";
import { authenticateGatewayKey } from "./gateway-auth-interceptor.js";
import type { AuthenticatedGatewayKey } from "./rpc-context.js";

/** What the gate needs of a request and its response (HTTP/1.1 and HTTP/2 compatibility objects alike). */
export interface GateRequest {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}
export interface GateResponse {
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  end(body?: Buffer | string): unknown;
}

export interface GatewayKeyGate {
  /**
   * Resolves true when it answered the request (refused), false when the RPC may go on. `path`
   * is the request's path: only the services' methods are gated (another path is Connect's 404).
   */
  check(path: string, req: GateRequest, res: GateResponse): Promise<boolean>;
  /** The key check() found for `req`, if it found one. */
  accepted(req: object): AuthenticatedGatewayKey | undefined;
}

/** The metrics labels of every method the control plane serves, by its path "/<service>/<method>". */
const RPC_PATHS: ReadonlyMap<string, { readonly service: string; readonly method: string }> = new Map(
  [Recorder, MCPConfigurator, Authorizer].flatMap((service) => service.methods.map((m) => [`/${service.typeName}/${m.name}`, { service: service.typeName, method: m.name }] as const)),
);

export function createGatewayKeyGate(options: { readonly db: Kysely<Database>; readonly logger: Logger; readonly metrics: ControlPlaneMetrics }): GatewayKeyGate {
  const { metrics } = options;
  const logger = options.logger.child({ component: "gateway_auth" });
  const keys = new WeakMap<object, AuthenticatedGatewayKey>();
  return {
    accepted: (req) => keys.get(req),
    async check(path, req, res) {
      const labels = RPC_PATHS.get(path);
      if (labels === undefined) return false;
      const stop = metrics.rpcDuration.startTimer(labels);
      const presented = header(req, GATEWAY_KEY_HEADER) || null;
      try {
        // Accepted: its timer is left unstopped (unobserved); the interceptor's times the RPC.
        keys.set(req, await authenticateGatewayKey(options.db, presented));
        return false;
      } catch (err) {
        if (!isGatewayKeyRefusedError(err)) return false;
        // SECURITY: only the visible prefix of a refused key is logged; the fields are the
        // interceptor's, so one query finds refusals from either.
        logger.warn(
          { rpc_service: labels.service, rpc_method: labels.method, gateway_key_prefix: presented ? gatewayKeyPrefix(presented) : undefined, reason: err.message },
          "gateway key refused",
        );
        refuse(req, res, err.message);
        // Counted as the interceptor counts a refusal: the RPC's labels, its Connect code.
        stop();
        metrics.rpcRequests.inc({ ...labels, code: "unauthenticated" });
        return true;
      }
    },
  };
}

function header(req: GateRequest, name: string): string {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? "";
}

/** An Unauthenticated error as the request's protocol carries one: gRPC(-Web), Connect streaming or unary. */
function refuse(req: GateRequest, res: GateResponse, message: string): void {
  const error = new ConnectError(message, Code.Unauthenticated);
  const contentType = header(req, "content-type").toLowerCase();
  if (contentType.startsWith("application/grpc")) {
    // A trailers-only answer: the status rides in the headers.
    const headers: Record<string, string> = { "content-type": contentType };
    setTrailerStatus(new Headers(), error).forEach((value, name) => (headers[name] = value));
    res.writeHead(200, headers);
    res.end();
    return;
  }
  if (contentType.startsWith("application/connect+")) {
    // The end-of-stream message carries the error; the status is 200.
    const endStream = createEndStreamSerialization(undefined).serialize({ metadata: new Headers(), error });
    res.writeHead(200, { "content-type": contentType });
    res.end(Buffer.from(encodeEnvelope(endStreamFlag, endStream)));
    return;
  }
  const body = Buffer.from(errorToJsonBytes(error, undefined));
  res.writeHead(codeToHttpStatus(Code.Unauthenticated), { "content-type": "application/json", "content-length": body.length });
  res.end(body);
}
