// Counts and times every RPC that reaches the interceptor chain (outermost, so refusals by the
// gateway-auth interceptor are counted with their codes). Requests refused before the chain
// (e.g. oversized messages) are not seen here.
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import type { ControlPlaneMetrics } from "../metrics.js";

export function createRpcMetricsInterceptor(metrics: ControlPlaneMetrics): Interceptor {
  return (next) => async (req) => {
    const labels = { service: req.service.typeName, method: req.method.name };
    const stop = metrics.rpcDuration.startTimer(labels);
    let code = "ok";
    try {
      return await next(req);
    } catch (err) {
      code = codeToString(ConnectError.from(err).code);
      throw err;
    } finally {
      stop();
      metrics.rpcRequests.inc({ ...labels, code });
    }
  };
}
