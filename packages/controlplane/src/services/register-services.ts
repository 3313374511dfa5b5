// The one registration of the control plane's RPC services (Coder's aibridgedserver.Register),
// used by the network server, the in-process transport and the tests, so all three expose the
// same set. Every method goes through mapServiceErrors (rpc/connect-errors.ts).
import type { ConnectRouter } from "@connectrpc/connect";
import { Authorizer, MCPConfigurator, Recorder } from "@weir/proto";
import { mapServiceErrors } from "../rpc/connect-errors.js";
import { AuthorizerService } from "./authorizer.js";
import { MCPConfiguratorService } from "./mcp-configurator.js";
import { RecorderService } from "./recorder.js";
import type { ServiceDeps } from "./service-deps.js";

export function registerServices(router: ConnectRouter, deps: ServiceDeps): ConnectRouter {
  const logger = deps.logger.child({ component: "rpc" });
  return router
    .service(Recorder, mapServiceErrors(Recorder, new RecorderService(deps), logger))
    .service(MCPConfigurator, mapServiceErrors(MCPConfigurator, new MCPConfiguratorService(deps), logger))
    .service(Authorizer, mapServiceErrors(Authorizer, new AuthorizerService(deps), logger));
}
