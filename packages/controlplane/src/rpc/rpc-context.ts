// Per-call facts the transport establishes before a handler runs, carried in Connect context
// values: which gateway key authenticated a network call, or that a call came in-process.
import { createContextKey, type ContextValues } from "@connectrpc/connect";

/** The gateway key that authenticated a network RPC. SECURITY: never holds the key itself. */
export interface AuthenticatedGatewayKey {
  /** UUID of the ai_gateway_keys row. */
  readonly id: string;
  readonly name: string;
  /** The 11-character visible prefix (loggable). */
  readonly prefix: string;
  /** Whether the key may use delegated authorization (IsAuthorized key_id), DESIGN §5. */
  readonly allowDelegation: boolean;
}

/** Set by the gateway-auth interceptor on every network RPC it lets through. */
export const GATEWAY_KEY_CONTEXT = createContextKey<AuthenticatedGatewayKey | undefined>(undefined, {
  description: "weir: authenticated gateway key",
});

/** Set (true) only by the in-process transport's router; a network caller cannot set it. */
export const IN_PROCESS_CONTEXT = createContextKey<boolean>(false, { description: "weir: in-process call" });

/** Log fields naming a gateway key. SECURITY: id, name and prefix only, never the key. */
export function gatewayKeyLogFields(key: AuthenticatedGatewayKey): Record<string, string> {
  return { gateway_key_id: key.id, gateway_key_name: key.name, gateway_key_prefix: key.prefix };
}

/** Log fields describing who made a call (for handler child loggers). */
export function callerLogFields(values: ContextValues): Record<string, string | boolean> {
  if (values.get(IN_PROCESS_CONTEXT)) return { in_process: true };
  const key = values.get(GATEWAY_KEY_CONTEXT);
  return key ? gatewayKeyLogFields(key) : {};
}
