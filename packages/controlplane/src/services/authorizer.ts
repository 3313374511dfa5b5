// Authorizer.IsAuthorized (DESIGN §4, §5; reference §4). Exactly one of key / key_id; key_id
// (delegated: the secret is not checked) only for in-process callers or gateway keys created
// with allow_delegation. The checks themselves are verifyApiKey's, in the reference's order.
// Every refusal carries an IsAuthorizedFailure{reason} detail (added in rpc/connect-errors.ts).
// The user API key's last-used time is not updated (as in the reference).
import type { ContextValues, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Authorizer, IsAuthorizedRequest } from "@weir/proto";
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import { isApiKeyRefusedError, verifyApiKey, type ApiKeyCredential, type VerifiedApiKey } from "../auth/verify-api-key.js";
import { systemClock, type Clock } from "../clock.js";
import type { Database } from "../db/schema.js";
import { AmbiguousCredentialError, DelegationNotAllowedError } from "../errors.js";
import { GATEWAY_KEY_CONTEXT, IN_PROCESS_CONTEXT, callerLogFields } from "../rpc/rpc-context.js";
import type { ServiceDeps } from "./service-deps.js";

/** Whether the caller may authorize by key id alone (DESIGN §5). */
export function mayDelegate(values: ContextValues): boolean {
  return values.get(IN_PROCESS_CONTEXT) || values.get(GATEWAY_KEY_CONTEXT)?.allowDelegation === true;
}

/** The IsAuthorized answer for a verified key. */
export function isAuthorizedResponseFromKey(key: VerifiedApiKey): { ownerId: string; apiKeyId: string; username: string } {
  return { ownerId: key.userId, apiKeyId: key.apiKeyId, username: key.username };
}

export class AuthorizerService implements ServiceImpl<typeof Authorizer> {
  private readonly db: Kysely<Database>;
  private readonly logger: Logger;
  private readonly clock: Clock;

  constructor(deps: ServiceDeps) {
    this.db = deps.db;
    this.logger = deps.logger.child({ component: "authorizer" });
    this.clock = deps.clock ?? systemClock;
  }

  async isAuthorized(req: IsAuthorizedRequest, ctx: HandlerContext): Promise<{ ownerId: string; apiKeyId: string; username: string }> {
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
      if (typeof reason === "string") this.logger.info({ ...fields(), reason }, "api key refused");
      throw err;
    }
  }
}
