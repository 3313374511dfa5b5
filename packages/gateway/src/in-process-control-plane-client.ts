// The control-plane client of an embedded gateway (DESIGN §3): the same ControlPlaneClient —
// start-up probe, error mapping, readiness, record delivery — but every RPC goes through the
// control plane's in-process Connect transport (ControlPlane#createInProcessTransport()): no
// network, no gateway key, no version header, and the one transport on which IsAuthorized
// accepts a delegated key_id without a gateway key created with allow_delegation.
//
// ControlPlaneClient builds its HTTP/2 transport itself, so this subclass replaces its three
// service clients with clients on the given transport; the HTTP/2 transport it also builds is
// never used (nothing dials BASE_URL). The IsAuthorized cache is off: it is kept honest by a
// watch stream the base class opens on its own clients, and an in-process IsAuthorized is one
// database query anyway.
// Follow-up for the client's owner: a `transport` option on ControlPlaneClientOptions makes this a
// plain constructor call; this class then goes away.

import { createClient } from "@connectrpc/connect";
import type { Client, Transport } from "@connectrpc/connect";
import { Authorizer, MCPConfigurator, Recorder } from "@weir/proto";
import { ControlPlaneClient } from "./control-plane-client.js";
import type { ControlPlaneClientOptions } from "./control-plane-client.js";

/** What the client is built from: the in-process transport instead of a URL and a gateway key. */
export interface InProcessControlPlaneClientOptions extends Omit<ControlPlaneClientOptions, "baseUrl" | "gatewayKey" | "authCache"> {
  readonly transport: Transport;
}

/** Logged as the control plane's URL; never dialed. */
const BASE_URL = "http://control-plane.in-process";

export class InProcessControlPlaneClient extends ControlPlaneClient {
  override readonly recorder: Client<typeof Recorder>;
  override readonly authorizer: Client<typeof Authorizer>;
  override readonly mcpConfigurator: Client<typeof MCPConfigurator>;

  constructor(options: InProcessControlPlaneClientOptions) {
    const { transport, ...rest } = options;
    super({ ...rest, baseUrl: BASE_URL, gatewayKey: "", authCache: false });
    this.recorder = createClient(Recorder, transport);
    this.authorizer = createClient(Authorizer, transport);
    this.mcpConfigurator = createClient(MCPConfigurator, transport);
  }
}
