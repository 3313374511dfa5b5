// The transport an embedded gateway (one running inside the control plane's process) uses:
// Connect's in-memory router transport over the same registerServices as the network server.
//
// No gateway key and no version header on this path: the caller is code in this very process,
// built from the same packages (so the same API version), and no bytes cross a network or a
// process boundary that a key could protect. The router marks every call as in-process through
// a context value; that mark, which a network caller cannot set, is the only thing that lets
// IsAuthorized accept a delegated key_id without a gateway key created with allow_delegation.
import { createRouterTransport, type Interceptor, type Transport } from "@connectrpc/connect";
import { registerServices } from "../services/register-services.js";
import type { ServiceDeps } from "../services/service-deps.js";
import { IN_PROCESS_CONTEXT } from "./rpc-context.js";
import { createRpcMetricsInterceptor } from "./rpc-metrics-interceptor.js";

const markInProcess: Interceptor = (next) => async (req) => {
  req.contextValues.set(IN_PROCESS_CONTEXT, true);
  return next(req);
};

export function createInProcessTransport(deps: ServiceDeps): Transport {
  const interceptors: Interceptor[] = deps.metrics ? [createRpcMetricsInterceptor(deps.metrics), markInProcess] : [markInProcess];
  return createRouterTransport((router) => registerServices(router, deps), { router: { interceptors } });
}
