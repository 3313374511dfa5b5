// The single-process deployment (`weir control-plane --embedded-gateway`): a control plane and
// a gateway in one process. The gateway talks to the control plane over its in-process
// transport (no network, no gateway key) and serves the LLM routes on the control plane's own
// address under /api/v2/ai-gateway/openai/ and /api/v2/ai-gateway/anthropic/ — the rest of
// /api/v2/ai-gateway/ stays the admin API. The two packages never import each other (DESIGN
// §1): this is where they meet, through the control plane's generic `mounts` option.
import type { ServerResponse } from "node:http";
import type { Logger } from "pino";
import { createControlPlane, type ControlPlane, type ControlPlaneOptions, type HttpRequest, type HttpResponse } from "@weir/controlplane";
import { PROVIDER_ALIAS_PREFIXES, createEmbeddedGateway, type Gateway } from "@weir/gateway";
import type { GatewaySettings } from "./gateway-options.js";
import type { Daemon } from "./run-daemon.js";

const NOT_SERVING_BODY = JSON.stringify({ message: "the embedded gateway is not serving yet" });

export class EmbeddedDeployment implements Daemon {
  readonly controlPlane: ControlPlane;
  private embeddedGateway: Gateway | undefined;
  /** The gateway while it starts: a shutdown then stops it too. */
  private startingGateway: Gateway | undefined;

  constructor(
    controlPlaneOptions: Omit<ControlPlaneOptions, "mounts">,
    private readonly gatewaySettings: GatewaySettings,
    private readonly logger: Logger,
  ) {
    this.controlPlane = createControlPlane({
      ...controlPlaneOptions,
      mounts: [
        {
          prefixes: PROVIDER_ALIAS_PREFIXES,
          handler: (req, res) => this.serveLlm(req, res, false),
          handlerAwaitingContinue: (req, res) => this.serveLlm(req, res, true),
        },
      ],
    });
  }

  /** The embedded gateway, once started (for code running in this process: inProcessFetch). */
  get gateway(): Gateway | undefined {
    return this.embeddedGateway;
  }

  async start(): Promise<void> {
    await this.controlPlane.start();
    const gateway = createEmbeddedGateway({
      ...this.gatewaySettings,
      controlPlaneTransport: this.controlPlane.createInProcessTransport(),
      logger: this.logger,
    });
    this.startingGateway = gateway;
    try {
      await gateway.start();
    } catch (err) {
      await this.controlPlane.shutdown();
      throw err;
    } finally {
      this.startingGateway = undefined;
    }
    this.embeddedGateway = gateway;
    // One process, one /metrics: the gateway's series (requests refused, tokens, ...) too.
    this.controlPlane.metrics.include(gateway.metrics.registry);
  }

  /** The control plane's metrics, which include the gateway's once it runs. */
  get metrics(): ControlPlane["metrics"] {
    return this.controlPlane.metrics;
  }

  /** The control plane serves this address, and so its TLS. */
  reloadTls(): Promise<void> {
    return this.controlPlane.reloadTls();
  }

  /** New central provider keys for the embedded gateway (see Gateway.replaceProviderKeys). */
  replaceProviderKeys(keys: Parameters<Gateway["replaceProviderKeys"]>[0]): void {
    if (this.embeddedGateway === undefined) throw new Error("the embedded gateway is not running");
    this.embeddedGateway.replaceProviderKeys(keys);
  }

  /** The gateway first — it drains its streams and flushes its records through the control plane — then the control plane. */
  async shutdown(): Promise<void> {
    await (this.embeddedGateway ?? this.startingGateway)?.shutdown();
    await this.controlPlane.shutdown();
  }

  // The control plane listens before the gateway exists (the gateway needs its transport):
  // requests in that instant get a 503 like a gateway that is not ready.
  private serveLlm(req: HttpRequest, res: HttpResponse, awaitingContinue: boolean): void {
    if (this.embeddedGateway !== undefined) {
      if (awaitingContinue) this.embeddedGateway.handlerAwaitingContinue(req, res);
      else this.embeddedGateway.handler(req, res);
      return;
    }
    // The HTTP/1.1 and HTTP/2 response types share writeHead/end; their overloads do not unify.
    (res as ServerResponse).writeHead(503, { "content-type": "application/json", "content-length": Buffer.byteLength(NOT_SERVING_BODY) }).end(NOT_SERVING_BODY);
  }
}
