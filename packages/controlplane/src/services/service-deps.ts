// What every RPC service implementation is built from. The same object serves the network
// server, the in-process transport and the tests (through registerServices).
import type { Kysely } from "kysely";
import type { AuthorizationChangeHub } from "../auth/authorization-change-hub.js";
import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import type { Database } from "../db/schema.js";
import type { ControlPlaneMetrics } from "../metrics.js";
import type { GatewayKeyUsageTracker } from "../rpc/gateway-key-usage.js";

export interface ServiceDeps {
  readonly db: Kysely<Database>;
  readonly logger: Logger;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** When given, the Recorder counts the rows it writes. */
  readonly metrics?: ControlPlaneMetrics;
  /**
   * Where Authorizer.WatchAuthorizationChanges subscribes. Without it that RPC answers
   * Unimplemented (gateways then cache nothing), never a stream that would miss changes.
   */
  readonly authorizationChanges?: AuthorizationChangeHub;
  /** When given, an open authorization watch keeps its gateway key's last_used_at advancing. */
  readonly gatewayKeyUsage?: GatewayKeyUsageTracker;
}
