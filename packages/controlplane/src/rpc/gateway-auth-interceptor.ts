// The server interceptor every network RPC passes through (DESIGN §3), in the reference's order:
// 1. X-AI-Governance-Gateway-Key missing -> Unauthenticated "AI Gateway key required.";
// 2. sha256 of the whole key looked up by its unique index, then compared in constant time;
//    no match -> Unauthenticated "AI Gateway key invalid."; lookup failure -> Internal
//    "Failed to look up AI Gateway key." (cause logged, never sent);
// 3. X-AI-Gateway-API-Version checked against the server's version -> FailedPrecondition naming
//    both versions (a missing header is the client version "").
// The key is then put in the call's context values for the handlers and its use recorded
// (at most once a minute, in the background).
//
// No cache: one indexed query per RPC (made by the gateway key gate before the body is read, for
// network RPCs; here otherwise), so a deleted key fails the very next RPC on every replica
// sharing the database. The services behind it hit the database anyway, so the lookup costs one
// extra index probe on a pooled connection, not a new bottleneck.
import type { Interceptor } from "@connectrpc/connect";
import { API_VERSION, API_VERSION_HEADER, GATEWAY_KEY_HEADER, SUPPORTED_OLDER_MAJORS, checkApiVersion, parseApiVersion, type ApiVersionServer } from "@weir/proto";
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import { findGatewayKeyByHashedSecret } from "../db/repositories/gateway-key-auth-repository.js";
import type { Database } from "../db/schema.js";
import { GatewayKeyLookupError, GatewayKeyRefusedError, IncompatibleApiVersionError, isGatewayKeyLookupError } from "../errors.js";
import { gatewayKeyPrefix, hashGatewayKey } from "../keys/gateway-key.js";
import { digestsEqual } from "../keys/secret-hash.js";
import { toConnectError } from "./connect-errors.js";
import type { GatewayKeyUsageTracker } from "./gateway-key-usage.js";
import { GATEWAY_KEY_CONTEXT, gatewayKeyLogFields, type AuthenticatedGatewayKey } from "./rpc-context.js";

export interface GatewayAuthInterceptorOptions {
  readonly db: Kysely<Database>;
  readonly logger: Logger;
  /** Records key use (last_used_at); see GatewayKeyUsageTracker. */
  readonly usage: GatewayKeyUsageTracker;
  /** The "MAJOR.MINOR" this server speaks; default API_VERSION from @weir/proto. */
  readonly apiVersion?: string;
  /** Older majors still served; default SUPPORTED_OLDER_MAJORS from @weir/proto. */
  readonly supportedOlderMajors?: readonly number[];
}

/** Resolves a presented gateway key to its stored row, or throws a domain error. */
export async function authenticateGatewayKey(db: Kysely<Database>, presented: string | null): Promise<AuthenticatedGatewayKey> {
  if (!presented) throw new GatewayKeyRefusedError("required");
  const digest = hashGatewayKey(presented);
  let row;
  try {
    row = await findGatewayKeyByHashedSecret(db, digest);
  } catch (cause) {
    throw new GatewayKeyLookupError({ cause });
  }
  // The index already matched exactly; the constant-time compare guards against a lookup that
  // ever becomes a prefix or case-insensitive match.
  if (!row || !digestsEqual(digest, row.hashedSecret)) throw new GatewayKeyRefusedError("invalid");
  return { id: row.id, name: row.name, prefix: row.secretPrefix, allowDelegation: row.allowDelegation };
}

export function createGatewayAuthInterceptor(options: GatewayAuthInterceptorOptions): Interceptor {
  const { db, usage } = options;
  const server: ApiVersionServer = {
    version: parseApiVersion(options.apiVersion ?? API_VERSION),
    supportedOlderMajors: options.supportedOlderMajors ?? SUPPORTED_OLDER_MAJORS,
  };
  const logger = options.logger.child({ component: "gateway_auth" });
  return (next) => async (req) => {
    // Child loggers only on the refusal paths: the accepted path stays allocation-light.
    const log = () => logger.child({ rpc_service: req.service.typeName, rpc_method: req.method.name });
    const presented = req.header.get(GATEWAY_KEY_HEADER);
    // Found already by the gate (gateway-key-gate.ts) at this RPC's start: one lookup per RPC.
    let key = req.contextValues.get(GATEWAY_KEY_CONTEXT);
    if (key === undefined) {
      try {
        key = await authenticateGatewayKey(db, presented);
      } catch (err) {
        // SECURITY: only the visible 11-character prefix of a refused key is logged. A failed
        // lookup refused nothing: toConnectError logs it as the database failure it is.
        const l = log();
        if (!isGatewayKeyLookupError(err)) {
          l.warn({ gateway_key_prefix: presented ? gatewayKeyPrefix(presented) : undefined, reason: (err as Error).message }, "gateway key refused");
        }
        throw toConnectError(err, l);
      }
    }
    const clientVersion = req.header.get(API_VERSION_HEADER) ?? "";
    const check = checkApiVersion(clientVersion, server);
    if (!check.ok) {
      const l = log();
      l.warn({ ...gatewayKeyLogFields(key), client_api_version: check.client, server_api_version: check.server }, "incompatible api version");
      throw toConnectError(new IncompatibleApiVersionError(check.reason, check.client, check.server), l);
    }
    req.contextValues.set(GATEWAY_KEY_CONTEXT, key);
    usage.recordUse(key);
    return next(req);
  };
}
