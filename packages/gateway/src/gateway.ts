// The gateway daemon (DESIGN §6-§7): wires the control-plane client, the record queue, the
// per-user handler pool, the upstream client and the HTTP front, and owns start-up and
// graceful shutdown.
//
// start(): verifies gateway key and API version with the control plane first. A fatal answer
// rejects with FatalStartupError and nothing is served. Otherwise the listener opens — also
// when the control plane is still unreachable: the gateway then serves /healthz, answers LLM
// requests with 503 "could not connect to the control plane", reports /readyz 503 and keeps
// retrying in the background (50 ms → 10 s), like the reference's standalone gateway.
// With options.tls the listener serves HTTPS (HTTP/1.1 over TLS); its files are read and
// checked first, and a bad one rejects with TlsFilesError before the control plane is asked.
// reloadTls() reads them again (a renewed certificate) for the connections that follow.
//
// shutdown(): stops accepting, lets in-flight requests finish within shutdownTimeoutMs (then
// aborts them: streams end with the provider's error event), flushes queued records within
// recordFlushTimeoutMs, then closes the pool, the HTTP/2 session to the control plane, the
// upstream connection pools and every client connection. With recordSpoolDir, what the flush
// leaves is written to the record spool instead of dropped, records that wait long on the control
// plane are checkpointed there while running, and start() replays the spool in the background.
//
// Embedded mode (createEmbeddedGateway): inside the control plane's process, every RPC goes
// through its in-process transport and the gateway opens no listener; the host mounts
// `handler` instead. In both modes code in this process can call the gateway in memory for a
// user it acts for (inProcessFetch / inProcessDispatcher, with a delegated API key id).

import { createServer } from "node:http";
import { finishBeforeClientErrors } from "./client-errors.js";
import { holdingContinue } from "./expect-continue.js";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { Http2ServerRequest } from "node:http2";
import type { Http2ServerResponse } from "node:http2";
import { createServer as createHttpsServer } from "node:https";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Transport } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Gauge } from "prom-client";
import type { Dispatcher } from "undici";
import { gatewayKeyPrefix } from "@weir/proto";
import type { AuthorizationChange } from "./authorization-watch.js";
import { CircuitBreakers } from "./circuit-breaker.js";
import type { BreakerState } from "./circuit-breaker.js";
import { ControlPlaneClient } from "./control-plane-client.js";
import { FatalStartupError, GatewayKeyNotReplacedError, ShutdownAbortError } from "./errors.js";
import { HandlerPool } from "./handler-pool.js";
import { HttpFront } from "./http-front.js";
import { IdleSweeper } from "./idle-sweeper.js";
import { Http2Bridge } from "./http2-bridge.js";
import { InMemoryConnections } from "./in-memory-connections.js";
import { createInProcessDispatcher, createInProcessFetch } from "./in-process-client.js";
import type { InProcessClientOptions, InProcessFetch } from "./in-process-client.js";
import type { ExchangeDeps } from "./interception.js";
import { createCertificateExpiryGauge, createGatewayMetrics } from "./metrics.js";
import type { GatewayMetrics } from "./metrics.js";
import { InvalidGatewayOptionsError, checkedApiKeys, resolveGatewayOptions } from "./options.js";
import type { EmbeddedGatewayOptionsInput, GatewayOptions, GatewayOptionsInput } from "./options.js";
import { ProviderKeyPool } from "./provider-key-pool.js";
import { RecordQueue } from "./record-queue.js";
import { RecordCheckpoint } from "./record-checkpoint.js";
import { RecordSpool, SpoolWriteError } from "./record-spool.js";
import { SpoolReplay } from "./record-spool-replay.js";
import type { GatewayRecord } from "./records.js";
import { createRequestHandler } from "./request-handler.js";
import type { RequestHandler } from "./request-handler.js";
import { PROVIDERS } from "./routes.js";
import type { ProviderName } from "./routes.js";
import { certificateSummary, loadTlsFiles } from "./tls-files.js";
import type { CertificateSummary, TlsCredentials } from "./tls-files.js";
import { Upstream } from "./upstream.js";
import { redactedProxyUrl } from "./upstream-proxy.js";

/** Lifecycle states. */
export type GatewayState = "new" | "starting" | "running" | "stopping" | "stopped";

/** Accept backlog of the gateway's listener (Node's default is 511). */
const LISTEN_BACKLOG = 4096;

/** How long a request's headers may take to arrive (Node's headersTimeout), with TLS or without. */
const HEADERS_TIMEOUT_MS = 60_000;

/**
 * How long a TLS client may take to finish its handshake. Node's default, 120 s, lets anyone
 * who opens connections and sends nothing hold a socket each for two minutes.
 */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** How long aborted requests get to wind down after the shutdown deadline. */
const ABORT_GRACE_MS = 5_000;

export class Gateway {
  readonly options: GatewayOptions;
  readonly metrics: GatewayMetrics;
  private readonly logger: Logger;
  private readonly controlPlane: ControlPlaneClient;
  private readonly records: RecordQueue<GatewayRecord>;
  /** With --record-spool-dir: where undelivered records go at shutdown, and come back from. */
  private readonly spool: RecordSpool | undefined;
  private spoolReplay: SpoolReplay | undefined;
  private checkpoint: RecordCheckpoint | undefined;
  private readonly pool: HandlerPool<RequestHandler>;
  private readonly upstream: Upstream;
  /** With --circuit-breaker. */
  private readonly circuitBreakers: CircuitBreakers | undefined;
  /** Aborted when shutdown begins: requests waiting to retry upstream hand on what they have. */
  private readonly draining = new AbortController();
  /** Central provider keys, per provider (several: failover on refusal). */
  private readonly providerKeys: Readonly<Record<ProviderName, ProviderKeyPool>>;
  private readonly front: HttpFront;
  /** In-memory connections to `front`: the in-process clients' and the HTTP/2 relay's. */
  private readonly connections: InMemoryConnections;
  private readonly http2Bridge: Http2Bridge;
  private readonly idleSweeper: IdleSweeper;
  private server: Server | HttpsServer | undefined;
  /** With TLS: when the certificate served expires (only a daemon serving TLS has the series). */
  private certificateExpiry: Gauge | undefined;
  /**
   * With TLS: every accepted TCP connection until it closes. Node's HTTP layer only knows a
   * connection once its handshake is done, so closeAllConnections() misses one still in its
   * handshake (a client that connected and sent nothing holds it up to TLS_HANDSHAKE_TIMEOUT_MS), and
   * server.close() would wait for it.
   */
  private readonly tlsSockets = new Set<Socket>();
  private address: string | undefined;
  private lifecycle: GatewayState = "new";
  private stopping: Promise<void> | undefined;
  private released: Promise<void> | undefined;
  private droppedAtShutdown = 0;

  constructor(input: GatewayOptionsInput | EmbeddedGatewayOptionsInput) {
    const options = resolveGatewayOptions(input);
    this.options = options;
    // The queue is made below; its depth is only read when /metrics is scraped.
    this.metrics = createGatewayMetrics({
      recordQueueDepth: () => this.records.size,
      refreshCircuitBreakers: () => this.circuitBreakers?.refresh(),
      memoryEntries: () => ({
        handlers: this.pool.stats().size,
        auth_cache: this.controlPlane.authCache?.size ?? 0,
        auth_changes: this.controlPlane.authCache?.rememberedChanges ?? 0,
        circuits: this.circuitBreakers?.size ?? 0,
      }),
      providerKeys: () => PROVIDERS.map((provider) => ({ provider, configured: this.providerKeys[provider].size, usable: this.providerKeys[provider].usable() })),
    }, options.processMetrics);
    this.providerKeys = {
      openai: new ProviderKeyPool(options.openai.apiKeys, () => options.clock.now()),
      anthropic: new ProviderKeyPool(options.anthropic.apiKeys, () => options.clock.now()),
    };
    // SECURITY: the gateway key is never logged, only its public 11-character prefix.
    this.logger = options.logger.child({ component: "gateway" });
    this.metrics.controlPlaneReady.set(0);
    this.controlPlane = options.controlPlaneTransport !== undefined ? this.inProcessControlPlaneClient(options.controlPlaneTransport) : new ControlPlaneClient({
      baseUrl: options.controlPlaneUrl,
      gatewayKey: options.gatewayKey,
      apiVersion: options.apiVersion,
      rpcTimeoutMs: options.rpcTimeoutMs,
      logger: options.logger,
      clock: options.clock,
      onReadyChange: (ready) => this.metrics.controlPlaneReady.set(ready ? 1 : 0),
      onFatalError: options.onFatalError,
      authCache: options.authCache.enabled ? options.authCache : false,
      metrics: this.metrics,
      onAuthorizationChange: (change) => this.dropStaleHandlers(change),
    });
    this.records = new RecordQueue<GatewayRecord>({
      send: (records, signal) => this.controlPlane.sendRecords(records, signal),
      classify: (err, batchSize) => this.controlPlane.classifyRecordError(err, batchSize),
      logger: options.logger.child({ component: "record_queue" }),
      maxSize: options.recordQueueSize,
      limits: () => this.controlPlane.recordLimits(options.recordBatch, options.recordConcurrency),
      clock: options.clock,
      metrics: this.metrics,
    });
    this.spool = options.recordSpoolDir === undefined ? undefined : new RecordSpool(options.recordSpoolDir, () => options.clock.now());
    this.pool = new HandlerPool<RequestHandler>({
      maxItems: options.pool.maxItems,
      ttlMs: options.pool.ttlMs,
      clock: options.clock,
      onEvent: (event) => this.metrics.poolEventsTotal.inc({ event }),
      inUse: (handler) => handler.inUse,
    });
    this.upstream = new Upstream({ timeoutMs: options.upstreamTimeoutMs, proxy: options.upstreamProxy });
    this.circuitBreakers = options.circuitBreaker.enabled ? observedCircuitBreakers(options, this.metrics) : undefined;
    const deps: ExchangeDeps = {
      options,
      controlPlane: this.controlPlane,
      records: this.records,
      upstream: this.upstream,
      metrics: this.metrics,
      providerKeys: this.providerKeys,
      circuitBreakers: this.circuitBreakers,
      draining: this.draining.signal,
    };
    this.front = new HttpFront({
      options,
      controlPlane: this.controlPlane,
      pool: this.pool,
      buildHandler: (user) => createRequestHandler(user, { deps, onCreate: options.onHandlerCreate }),
      metrics: this.metrics,
      logger: options.logger.child({ component: "http" }),
      isDelegatingSocket: (socket) => this.connections.isDelegating(socket),
    });
    this.connections = new InMemoryConnections(this.front.handle, options.logger.child({ component: "in_process" }));
    this.http2Bridge = new Http2Bridge(this.connections, options.logger.child({ component: "http2_relay" }));
    this.idleSweeper = new IdleSweeper({
      targets: () => ({ handlers: this.pool, auth_cache: this.controlPlane.authCache, circuits: this.circuitBreakers }),
      clock: options.clock,
      logger: options.logger.child({ component: "idle_sweeper" }),
    });
  }

  /**
   * A pushed authorization change drops the handlers it makes stale at once, instead of at their
   * 15-minute expiry: a handler carries its user's identity and per-user set-up (onHandlerCreate),
   * which must not outlive a deleted key or a suspended user. Handlers serving a request finish
   * it first (HandlerPool.revoke). Heard with or without the auth cache, embedded or networked.
   */
  private dropStaleHandlers(change: AuthorizationChange): void {
    switch (change.kind) {
      case "api_key":
        this.pool.revokeApiKey(change.apiKeyId);
        return;
      case "user":
        this.pool.revokeUser(change.userId);
        return;
      case "all":
        // A reset: the control plane cannot tell what changed (a new stream after a gap, or its
        // own listener reconnected), exactly why the auth cache forgets every answer.
        this.pool.revokeAll();
        return;
      case "gateway_key":
        // Kept: nothing in a handler comes from the gateway key, and every request is authorized
        // again (the cache forgot every answer) before it reaches one, so a handler whose key
        // the change refuses (say, a delegation no longer allowed) serves nothing more. Dropping
        // them all would only make every user build theirs again. (A deleted gateway key ends the
        // stream instead, and every request is refused from then on.)
        return;
    }
  }

  /** Embedded mode: the control plane's in-process transport, no listener. */
  get embedded(): boolean {
    return this.options.controlPlaneTransport !== undefined;
  }

  /**
   * The gateway's request handler, for mounting on another server (an embedded gateway on the
   * control plane's address): the LLM routes and their /api/v2/ai-gateway/ aliases. Takes
   * HTTP/1.1 requests as they are and HTTP/2 compatibility-API requests relayed in memory
   * (http2-bridge.ts). A delegated API key id header is never honoured here.
   */
  readonly handler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void => {
    if (req instanceof Http2ServerRequest) this.http2Bridge.serve(req, res as Http2ServerResponse);
    else this.front.handle(req, res as ServerResponse);
  };

  /**
   * As `handler`, for a request whose client awaits `100 Continue` (the host's 'checkContinue'):
   * an HTTP/1.1 client is told to go on only once its request is authorized and its declared
   * size fits (expect-continue.ts), as on the gateway's own listener.
   */
  readonly handlerAwaitingContinue = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void => {
    if (req instanceof Http2ServerRequest) {
      // The HTTP/2 relay reads the body before the front sees the request: the go-ahead now.
      res.writeContinue();
      this.http2Bridge.serve(req, res as Http2ServerResponse);
    } else {
      this.frontAwaitingContinue(req, res as ServerResponse);
    }
  };

  private readonly frontAwaitingContinue = holdingContinue((req, res) => this.front.handle(req, res));

  /**
   * An undici Dispatcher sending `provider` requests to this gateway in memory, on behalf of the
   * user whose API key id each request names (X-AI-Governance-Delegated-Api-Key-Id) or
   * `options.apiKeyId`; dispatch throws DelegatedApiKeyIdRequiredError otherwise. Paths are the
   * provider's API paths ("/v1/chat/completions"). A networked gateway needs a gateway key
   * created with allow_delegation for these requests to be authorized (DESIGN §5).
   */
  inProcessDispatcher(provider: ProviderName, options?: InProcessClientOptions): Dispatcher {
    return createInProcessDispatcher(this.connections, provider, options);
  }

  /**
   * A fetch-compatible function for `provider` over inProcessDispatcher — pass it as the
   * OpenAI / Anthropic SDKs' `fetch` option. Rejects with DelegatedApiKeyIdRequiredError before
   * sending anything when no delegated API key id is given.
   */
  inProcessFetch(provider: ProviderName, options?: InProcessClientOptions): InProcessFetch {
    return createInProcessFetch(this.connections, provider, options);
  }

  // An embedded gateway's client: every RPC goes through the control plane's in-process
  // transport (no network, no gateway key, no version header; the one transport on which
  // IsAuthorized accepts a delegated key_id). No IsAuthorized cache: an in-process call is one
  // database query, and there is no network hop to save. It still watches authorization changes
  // (the control plane's own change hub, in memory) to drop stale pooled handlers.
  private inProcessControlPlaneClient(transport: Transport): ControlPlaneClient {
    return new ControlPlaneClient({
      transport,
      baseUrl: "in-process",
      gatewayKey: "",
      authCache: false,
      apiVersion: this.options.apiVersion,
      rpcTimeoutMs: this.options.rpcTimeoutMs,
      logger: this.options.logger,
      clock: this.options.clock,
      onReadyChange: (ready) => this.metrics.controlPlaneReady.set(ready ? 1 : 0),
      onFatalError: this.options.onFatalError,
      metrics: this.metrics,
      onAuthorizationChange: (change) => this.dropStaleHandlers(change),
    });
  }

  /** "http://host:port" of the listener ("https://" with TLS); only after start(). */
  get url(): string {
    if (this.address === undefined) throw new Error(this.embedded ? "an embedded gateway has no listener: mount its handler" : "gateway not started");
    return this.address;
  }

  get state(): GatewayState {
    return this.lifecycle;
  }

  /**
   * Records the last shutdown dropped because the control plane did not take them by the flush
   * deadline (0: every record was delivered). `weir gateway` then exits 1.
   */
  get recordsDroppedAtShutdown(): number {
    return this.droppedAtShutdown;
  }

  /** What /readyz reports. */
  get ready(): boolean {
    return this.front.ready;
  }

  /** Follow-up records not yet delivered. */
  get pendingRecords(): number {
    return this.records.size;
  }

  async start(): Promise<void> {
    if (this.lifecycle !== "new") throw new Error(`gateway cannot start: it is ${this.lifecycle}`);
    this.lifecycle = "starting";
    this.idleSweeper.start();
    this.logger.info(
      {
        embedded: this.embedded,
        control_plane_url: this.options.controlPlaneUrl,
        gateway_key_prefix: gatewayKeyPrefix(this.options.gatewayKey),
        api_version: this.options.apiVersion,
        allow_byok: this.options.allowByok,
        send_actor_headers: this.options.sendActorHeaders,
        max_concurrency: this.options.maxConcurrency,
        rate_limit: this.options.rateLimit,
        circuit_breaker: this.options.circuitBreaker.enabled ? this.options.circuitBreaker : false,
        openai_base_url: this.options.openai.baseUrl,
        anthropic_base_url: this.options.anthropic.baseUrl,
        openai_keys: this.options.openai.apiKeys.length,
        anthropic_keys: this.options.anthropic.apiKeys.length,
        ...this.proxyFields(),
      },
      "gateway starting",
    );
    let tls: TlsCredentials | undefined;
    try {
      // Before the control plane: a wrong file is the operator's to fix, however long that takes.
      tls = this.options.tls === undefined || this.embedded ? undefined : await loadTlsFiles(this.options.tls);
      await this.prepareSpool();
      await this.controlPlane.start();
      if (this.stopping !== undefined) throw new Error("gateway shut down during start-up");
      if (!this.embedded) await this.listen(tls);
    } catch (err) {
      this.lifecycle = "stopped";
      this.logger.error({ err }, "gateway failed to start");
      await this.release();
      throw err;
    }
    this.front.setRunning(true);
    this.lifecycle = "running";
    this.startSpool();
    this.logger.info(
      { url: this.address, tls: this.options.tls !== undefined, ready: this.front.ready, ...(tls === undefined ? {} : { tls_certificate: this.servedCertificate(tls.cert) }) },
      this.embedded ? "embedded gateway serving" : "gateway listening",
    );
  }

  /** The egress proxy, for the start-up line: addresses without credentials. */
  private proxyFields(): Record<string, string> {
    const proxy = this.options.upstreamProxy;
    if (proxy === undefined) return {};
    const fields: Record<string, string> = {};
    if (proxy.httpsProxy !== undefined) fields.https_proxy = redactedProxyUrl(proxy.httpsProxy);
    if (proxy.httpProxy !== undefined) fields.http_proxy = redactedProxyUrl(proxy.httpProxy);
    if (proxy.noProxy !== "") fields.no_proxy = proxy.noProxy;
    return fields;
  }

  /**
   * Reads options.tls's files again and serves new connections with them (connections already
   * open keep theirs): how a renewed certificate is taken without dropping a request. A file
   * that cannot serve rejects with TlsFilesError and the previous certificate stays in use.
   * Callers run reloads one at a time (`weir`'s SIGHUP handler queues them).
   */
  async reloadTls(): Promise<void> {
    const files = this.options.tls;
    if (files === undefined || this.embedded) throw new Error("this gateway serves no TLS: it has no tls files to reload");
    if (this.lifecycle !== "running") throw new Error(`gateway cannot reload its TLS files: it is ${this.lifecycle}`);
    const tls = await loadTlsFiles(files);
    // Running with options.tls: the listener is the HTTPS server.
    (this.server as HttpsServer).setSecureContext(secureContextOptions(tls));
    this.logger.info({ tls_certificate: this.servedCertificate(tls.cert) }, "TLS certificate reloaded");
  }

  /** The certificate now served: its expiry goes to the gauge, its summary to the log line. */
  private servedCertificate(cert: Buffer): CertificateSummary {
    const summary = certificateSummary(cert);
    this.certificateExpiry ??= createCertificateExpiryGauge(this.metrics.registry);
    this.certificateExpiry.set(Date.parse(summary.not_after) / 1000);
    return summary;
  }

  /**
   * Uses new central keys for the providers given, from the next request on (a request under
   * way finishes with its key): how a provider key is rotated without a restart. Keys kept keep
   * their cool-downs (provider-key-pool.ts). Only a provider that has central keys takes new
   * ones, and at least one, so a replacement never turns a provider's centralized mode into
   * forwarding requests without a key. Everything is checked before anything changes: one that
   * throws (InvalidGatewayOptionsError) changed nothing.
   */
  replaceProviderKeys(keys: Readonly<Partial<Record<ProviderName, readonly string[]>>>): void {
    const unknown = Object.keys(keys).find((name) => !(PROVIDERS as readonly string[]).includes(name));
    if (unknown !== undefined) throw new InvalidGatewayOptionsError(`${unknown}: not a provider (${PROVIDERS.join(", ")})`);
    const replacements = PROVIDERS.flatMap((provider) => {
      const given = keys[provider];
      if (given === undefined) return [];
      if (this.providerKeys[provider].size === 0) throw new InvalidGatewayOptionsError(`${provider}: this gateway started without central keys; adding some needs a restart`);
      if (given.length === 0) throw new InvalidGatewayOptionsError(`${provider}: at least one API key is needed`);
      return [{ provider, apiKeys: checkedApiKeys(provider, given) }];
    });
    const providers: Record<string, { keys: number; added: number; removed: number }> = {};
    for (const { provider, apiKeys } of replacements) providers[provider] = { keys: apiKeys.length, ...this.providerKeys[provider].replace(apiKeys) };
    // SECURITY: counts only, never a key (nor its hint: a rotation's log would pair old and new).
    // A SIGHUP for another file (a gateway key's rotation) reloads these too: say when nothing changed.
    const changed = Object.values(providers).some((p) => p.added > 0 || p.removed > 0);
    this.logger.info({ providers }, changed ? "provider keys replaced" : "provider keys unchanged");
  }

  /**
   * Carries `key` on every control-plane call from now on, once the control plane has accepted
   * it: how replicas move to a new gateway key without a restart, after which the old key can
   * be deleted. LLM requests are not held up meanwhile. Rejects, having changed nothing, with
   * GatewayKeyNotReplacedError when the key is refused or the control plane cannot be asked.
   * Callers run replacements one at a time (`weir`'s SIGHUP handler queues them).
   */
  async replaceGatewayKey(key: string): Promise<void> {
    if (this.embedded) throw new GatewayKeyNotReplacedError("an embedded gateway calls its control plane in-process: it has no gateway key");
    if (this.lifecycle !== "running") throw new GatewayKeyNotReplacedError(`gateway cannot replace its gateway key: it is ${this.lifecycle}`);
    const previous = this.controlPlane.keyPrefix;
    if (!(await this.controlPlane.replaceGatewayKey(key))) return;
    // SECURITY: prefixes only.
    this.logger.info({ previous_gateway_key_prefix: previous, gateway_key_prefix: this.controlPlane.keyPrefix }, "gateway key replaced");
  }

  private async listen(tls: TlsCredentials | undefined): Promise<void> {
    const server = tls === undefined ? createServer({ headersTimeout: HEADERS_TIMEOUT_MS }) : this.createTlsServer(tls);
    const listener = finishBeforeClientErrors(server, this.front.handle);
    server.on("request", listener);
    server.on("checkContinue", holdingContinue(listener));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      // Node's default accept backlog (511) overflows when a burst of clients connects at once
      // (1,000 streams starting together), and every dropped handshake waits ~1 s to retry.
      // The kernel caps it at net.core.somaxconn.
      server.listen({ port: this.options.listen.port, host: this.options.listen.host, backlog: LISTEN_BACKLOG }, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    this.address = `${tls === undefined ? "http" : "https"}://${host}:${address.port}`;
  }

  // HTTP/1.1 only (the front's handler takes HTTP/1.1 requests; HTTP/2 would need the relay).
  // SECURITY: TLS 1.2 at least, Node's default, stated so that a runtime flag such as
  // --tls-min-v1.0 in NODE_OPTIONS cannot lower it. A cleartext request to this port fails its
  // handshake and Node destroys the connection at once (the client sees a reset).
  private createTlsServer(tls: TlsCredentials): HttpsServer {
    const server = createHttpsServer({ ...secureContextOptions(tls), ALPNProtocols: ["http/1.1"], headersTimeout: HEADERS_TIMEOUT_MS, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS });
    server.on("connection", (socket: Socket) => {
      this.tlsSockets.add(socket);
      socket.once("close", () => this.tlsSockets.delete(socket));
    });
    return server;
  }

  /** Graceful, bounded, idempotent. */
  shutdown(): Promise<void> {
    this.stopping ??= this.stop();
    return this.stopping;
  }

  private async stop(): Promise<void> {
    if (this.lifecycle === "new" || this.lifecycle === "stopped") {
      this.lifecycle = "stopped";
      await this.release();
      return;
    }
    this.lifecycle = "stopping";
    this.logger.info({ in_flight: this.front.activeRequests }, "gateway shutting down");
    this.front.beginDrain();
    this.draining.abort();
    const server = this.server;
    const closed = server === undefined ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    server?.closeIdleConnections();

    if (!(await this.within(this.front.waitIdle(), this.options.shutdownTimeoutMs))) {
      this.logger.warn({ in_flight: this.front.activeRequests }, "shutdown deadline passed; aborting in-flight requests");
      this.front.abortAll(new ShutdownAbortError());
      await this.within(this.front.waitIdle(), ABORT_GRACE_MS);
    }
    const pending = this.records.size;
    const rejectedBefore = this.records.rejected;
    const { undelivered, spooled } = await this.flushRecords();
    const rejected = this.records.rejected - rejectedBefore;
    if (pending > 0) this.logger.info({ pending, delivered: pending - undelivered - spooled - rejected, rejected, spooled, undelivered }, "flushed follow-up records");
    // Refused for good (the gateway key was deleted under running requests, say): an audit gap,
    // whenever it happened during this run.
    if (this.records.rejected > 0) {
      this.logger.error({ rejected: this.records.rejected }, "records the control plane refused were dropped during this run");
    }
    if (undelivered > 0) {
      this.droppedAtShutdown = undelivered;
      this.logger.error(
        { undelivered, record_flush_timeout_ms: this.options.recordFlushTimeoutMs },
        "records not delivered to the control plane by the flush deadline were dropped",
      );
    }
    await this.release();
    server?.closeAllConnections();
    for (const socket of this.tlsSockets) socket.destroy();
    await closed;
    this.front.setRunning(false);
    this.lifecycle = "stopped";
    this.logger.info("gateway stopped");
  }

  /**
   * Waits for the queue to drain within the flush deadline. Without a spool what is left then
   * is dropped; with one it is written to a new spool file (and a file that was being replayed
   * is superseded by it), and dropped only when that write fails.
   */
  private async flushRecords(): Promise<{ undelivered: number; spooled: number }> {
    const spool = this.spool;
    if (spool === undefined) return { undelivered: await this.records.flush(this.options.recordFlushTimeoutMs), spooled: 0 };
    this.spoolReplay?.stop();
    // No further checkpoint; one being written finishes alongside the flush.
    const checkpointStopped = this.checkpoint?.stop();
    const left = await this.records.flushOrTakeBack(this.options.recordFlushTimeoutMs);
    const interrupted = await this.spoolReplay?.finished();
    await checkpointStopped;
    // What the file in replay had not queued yet comes after everything of it that was queued,
    // and the new files take its place in the spool's order (its later parts come after them).
    const records = left.map((taken) => taken.record);
    if (interrupted !== undefined) records.push(...interrupted.unqueued);
    if (records.length > 0) {
      try {
        const files = await spool.write(records, { inPlaceOf: interrupted?.file });
        this.metrics.recordsSpooledTotal.inc(records.length);
        this.logger.warn(
          { spooled: records.length, files, record_flush_timeout_ms: this.options.recordFlushTimeoutMs },
          "records not delivered to the control plane by the flush deadline were spooled; a gateway started with this --record-spool-dir delivers them",
        );
      } catch (err) {
        // What was written stays; so do the file in replay and the last checkpoint (if any), for
        // the next start. Of the queue's records beyond what was written, those neither holds
        // are lost.
        const written = err instanceof SpoolWriteError ? err.written : 0;
        const beyond = left.slice(Math.min(written, left.length));
        const lost = beyond.filter((taken) => !taken.replayed && !this.checkpoint?.holds(taken.seq)).map((taken) => taken.record);
        this.logger.error({ err, dir: spool.dir, written, kept: beyond.length - lost.length }, "could not write the record spool");
        this.records.discard(lost, "shutdown");
        if (written > 0) this.metrics.recordsSpooledTotal.inc(written);
        return { undelivered: lost.length, spooled: left.length - lost.length };
      }
    }
    // Everything a checkpoint held is stored, or in the files just written.
    await this.checkpoint?.discard();
    if (interrupted !== undefined) {
      // Its records are stored or in the new files.
      await spool.remove(interrupted.file).catch((err: unknown) => this.logger.warn({ err, file: interrupted.file }, "could not remove a replayed spool file; its records are replayed again"));
    }
    return { undelivered: 0, spooled: left.length };
  }

  /** Creates the spool directory if needed and proves it writable, before anything is served. */
  private async prepareSpool(): Promise<void> {
    if (this.spool === undefined) return;
    try {
      await this.spool.prepare();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new FatalStartupError(`record spool directory ${this.spool.dir} cannot be used: ${reason}`, "record_spool", { cause: err });
    }
  }

  /** Delivers, in the background, what earlier runs left in the spool, and checkpoints the queue while records wait. */
  private startSpool(): void {
    // Shut down while start() was opening the listener: nothing may start after release().
    if (this.spool === undefined || this.stopping !== undefined) return;
    if (this.options.recordCheckpointMs > 0) {
      this.checkpoint = new RecordCheckpoint({
        spool: this.spool,
        queue: this.records,
        intervalMs: this.options.recordCheckpointMs,
        clock: this.options.clock,
        logger: this.logger.child({ component: "record_checkpoint" }),
        metrics: this.metrics,
      });
      this.checkpoint.start();
    }
    this.spoolReplay = new SpoolReplay({
      spool: this.spool,
      queue: this.records,
      // Three quarters of the queue's room stay for live traffic.
      sliceRecords: Math.max(1, Math.floor(this.options.recordQueueSize / 4)),
      controlPlaneReady: () => this.controlPlane.ready,
      logger: this.logger.child({ component: "record_spool" }),
      clock: this.options.clock,
      metrics: this.metrics,
    });
    this.spoolReplay.start();
  }

  /** Closes queue, pool, control-plane session, upstream pools and in-memory connections; once. */
  private release(): Promise<void> {
    this.released ??= (async () => {
      this.idleSweeper.stop();
      void this.checkpoint?.stop();
      this.records.close();
      this.pool.shutdown();
      this.controlPlane.close();
      await this.upstream.close();
      this.connections.close();
      await this.http2Bridge.close();
    })();
    return this.released;
  }

  /** Resolves true when `promise` settles within `ms` on the gateway's clock. */
  private within(promise: Promise<void>, ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = this.options.clock.setTimeout(() => resolve(false), ms);
      promise.then(
        () => {
          this.options.clock.clearTimeout(timer);
          resolve(true);
        },
        () => {
          this.options.clock.clearTimeout(timer);
          resolve(true);
        },
      );
    });
  }
}

/** The listener's context: at start-up and at every reload, so a reload cannot lower the TLS floor. */
function secureContextOptions(tls: TlsCredentials): { cert: Buffer; key: Buffer; minVersion: "TLSv1.2" } {
  return { cert: tls.cert, key: tls.key, minVersion: "TLSv1.2" };
}

/** Creates a gateway; call start() to serve. */
export function createGateway(options: GatewayOptionsInput): Gateway {
  return new Gateway(options);
}

/**
 * Creates an embedded gateway: RPCs through the control plane's in-process transport, no
 * listener. Mount `handler`; call start() to serve and shutdown() before the control plane's.
 */
export function createEmbeddedGateway(options: EmbeddedGatewayOptionsInput): Gateway {
  return new Gateway(options);
}

const BREAKER_GAUGE: Readonly<Record<BreakerState, number>> = { closed: 0, half_open: 0.5, open: 1 };

/** The gateway's circuit breakers, reporting their changes to the metrics and the log. */
function observedCircuitBreakers(options: GatewayOptions, metrics: GatewayMetrics): CircuitBreakers {
  const log = options.logger.child({ component: "circuit_breaker" });
  const labels = (key: { provider: string; endpoint: string; model: string }) => ({
    provider: key.provider,
    endpoint: key.endpoint,
    model: metrics.modelLabels.of(key.model),
  });
  return new CircuitBreakers(
    options.circuitBreaker,
    {
      onStateChange(key, from, to) {
        // warn when a provider is cut off, info when it comes back.
        log[to === "open" ? "warn" : "info"]({ ...labels(key), from, to }, "circuit breaker state change");
        metrics.circuitBreakerState.set(labels(key), BREAKER_GAUGE[to]);
        if (to === "open") metrics.circuitBreakerTripsTotal.inc(labels(key));
      },
      onReject(key) {
        metrics.circuitBreakerRejectsTotal.inc(labels(key));
      },
    },
    () => options.clock.now(),
  );
}
