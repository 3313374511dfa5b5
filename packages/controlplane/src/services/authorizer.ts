// Authorizer.IsAuthorized (DESIGN §4, §5; reference §4). Exactly one of key / key_id; key_id
// (delegated: the secret is not checked) only for in-process callers or gateway keys created
// with allow_delegation. The checks themselves are verifyApiKey's, in the reference's order.
// Every refusal carries an IsAuthorizedFailure{reason} detail (added in rpc/connect-errors.ts).
// The user API key's last-used time is not updated (as in the reference).
// Authorizer.WatchAuthorizationChanges (1.1) streams the changes of the AuthorizationChangeHub
// (auth/authorization-change-hub.ts) to the gateway; see there for when a stream ends.
import { timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ContextValues, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Authorizer, IsAuthorizedRequest, WatchAuthorizationChangesRequest, WatchAuthorizationChangesResponseSchema } from "@weir/proto";
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { AuthorizationChange, AuthorizationChangeHub } from "../auth/authorization-change-hub.js";
import { isApiKeyRefusedError, verifyApiKey, type ApiKeyCredential, type VerifiedApiKey } from "../auth/verify-api-key.js";
import { systemClock, type Clock } from "../clock.js";
import type { Database } from "../db/schema.js";
import type { ControlPlaneMetrics } from "../metrics.js";
import { AmbiguousCredentialError, DelegationNotAllowedError } from "../errors.js";
import { isApiKeyId, parseApiKey } from "../keys/api-key.js";
import { GATEWAY_KEY_CONTEXT, IN_PROCESS_CONTEXT, callerLogFields } from "../rpc/rpc-context.js";
import type { GatewayKeyUsageTracker } from "../rpc/gateway-key-usage.js";
import type { ServiceDeps } from "./service-deps.js";

/** Whether the caller may authorize by key id alone (DESIGN §5). */
export function mayDelegate(values: ContextValues): boolean {
  return values.get(IN_PROCESS_CONTEXT) || values.get(GATEWAY_KEY_CONTEXT)?.allowDelegation === true;
}

/** The IsAuthorized answer for a verified key. */
export interface IsAuthorizedAnswer {
  readonly ownerId: string;
  readonly apiKeyId: string;
  readonly username: string;
  readonly keyExpiresAt?: Timestamp;
}

/** The IsAuthorized answer for a verified key. */
export function isAuthorizedResponseFromKey(key: VerifiedApiKey): IsAuthorizedAnswer {
  const answer = { ownerId: key.userId, apiKeyId: key.apiKeyId, username: key.username };
  return key.expiresAt === null ? answer : { ...answer, keyExpiresAt: timestampFromDate(key.expiresAt) };
}

type WatchMessage = MessageInitShape<typeof WatchAuthorizationChangesResponseSchema>;

/** The stream message for a hub change. */
export function watchMessageFromChange(change: AuthorizationChange): WatchMessage {
  switch (change.kind) {
    case "reset":
      return { change: { case: "reset", value: {} } };
    case "api_key":
      return { change: { case: "apiKey", value: { apiKeyId: change.apiKeyId } } };
    case "user":
      return { change: { case: "user", value: { userId: change.userId } } };
    case "gateway_key":
      return { change: { case: "gatewayKey", value: { gatewayKeyId: change.gatewayKeyId } } };
  }
}

export class AuthorizerService implements ServiceImpl<typeof Authorizer> {
  private readonly db: Kysely<Database>;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly changes: AuthorizationChangeHub | undefined;
  private readonly metrics: ControlPlaneMetrics | undefined;
  private readonly gatewayKeyUsage: GatewayKeyUsageTracker | undefined;

  constructor(deps: ServiceDeps) {
    this.db = deps.db;
    this.logger = deps.logger.child({ component: "authorizer" });
    this.clock = deps.clock ?? systemClock;
    this.changes = deps.authorizationChanges;
    this.metrics = deps.metrics;
    this.gatewayKeyUsage = deps.gatewayKeyUsage;
  }

  async *watchAuthorizationChanges(_req: WatchAuthorizationChangesRequest, ctx: HandlerContext): AsyncGenerator<WatchMessage> {
    if (this.changes === undefined) throw new ConnectError("authorization change notifications are not served here", Code.Unimplemented);
    const gatewayKey = ctx.values.get(GATEWAY_KEY_CONTEXT);
    const subscription = this.changes.subscribe(gatewayKey?.id);
    const onAbort = (): void => subscription.close();
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    const fields = callerLogFields(ctx.values);
    this.logger.info(fields, "authorization watch opened");
    this.metrics?.authorizationWatchers.inc();
    // In-process callers (an embedded gateway) have no gateway key.
    const stopHeartbeat = gatewayKey && this.gatewayKeyUsage?.heartbeat(gatewayKey);
    try {
      for await (const change of subscription) yield watchMessageFromChange(change);
    } finally {
      stopHeartbeat?.();
      ctx.signal.removeEventListener("abort", onAbort);
      subscription.close();
      this.metrics?.authorizationWatchers.dec();
      this.logger.info(fields, "authorization watch closed");
    }
  }

  async isAuthorized(req: IsAuthorizedRequest, ctx: HandlerContext): Promise<IsAuthorizedAnswer> {
    const delegated = req.keyId !== "";
    // SECURITY: log the key id only (for delegated calls it is all we have; for full keys the
    // secret never leaves this function).
    const fields = () => ({ ...callerLogFields(ctx.values), auth_delegated: delegated });
    try {
      if (delegated && req.key !== "") throw new AmbiguousCredentialError();
      if (delegated && !mayDelegate(ctx.values)) throw new DelegationNotAllowedError();
      // Neither field set: an empty key, refused by verifyApiKey as invalid_key.
      const credential: ApiKeyCredential = delegated ? { keyId: req.keyId } : { key: req.key };
      const verified = await verifyApiKey(this.db, credential, this.clock.now());
      if (this.logger.isLevelEnabled("debug")) this.logger.debug({ ...fields(), api_key_id: verified.apiKeyId, user_id: verified.userId }, "api key authorized");
      return isAuthorizedResponseFromKey(verified);
    } catch (err) {
      const reason = isApiKeyRefusedError(err) ? err.reason : (err as { reason?: unknown }).reason;
      if (typeof reason === "string") {
        // The refused key's id (public: the first ten characters of a well-formed key) tells an
        // operator which key a client still presents, expired or revoked, or whose secret someone
        // is guessing. A malformed key is never echoed: it may be another system's secret.
        const apiKeyId = refusedKeyId(req.key, req.keyId);
        this.logger.info({ ...fields(), ...(apiKeyId !== undefined ? { api_key_id: apiKeyId } : {}), reason }, "api key refused");
      }
      throw err;
    }
  }
}

/** The id of the key a refused call presented, when it is a well-formed key (or key id). */
function refusedKeyId(key: string, keyId: string): string | undefined {
  if (keyId !== "") return isApiKeyId(keyId) ? keyId : undefined;
  return parseApiKey(key)?.id;
}
