// HTTP to the LLM providers: one undici Agent (a keep-alive Pool per origin) shared by every
// request of a gateway. Requests go through undici's dispatch-handler API rather than
// `agent.request`: a response body is a plain chunk buffer here, not a Readable stream with an
// async resource per response, which is most of what a proxy pays undici per request.

import { Agent, Pool, ProxyAgent, errors } from "undici";
import type { Dispatcher } from "undici";
import type { AbortSource } from "./cancellation.js";
import type { ResolvedUpstreamProxy } from "./options.js";
import type { UpstreamTarget } from "./routes.js";
import { noProxyMatcher, redactedProxyUrl } from "./upstream-proxy.js";

/** Response headers as undici parses them: lower-case names, repeated ones as arrays. */
export type IncomingHttpHeaders = Dispatcher.ResponseData["headers"];

export interface UpstreamOptions {
  /** Upper bound for waiting on response headers and between body chunks. */
  readonly timeoutMs: number;
  /** Idle keep-alive connections are closed after this long. Default 30 s. */
  readonly keepAliveTimeoutMs?: number;
  /** An egress proxy (upstream-proxy.ts); undefined: every provider is reached directly. */
  readonly proxy?: ResolvedUpstreamProxy | undefined;
}

/** One upstream request. */
export interface UpstreamRequest {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | Buffer | undefined;
  /** Aborting it aborts the exchange; the body then fails with its reason. */
  readonly cancellation: AbortSource;
}

/** A response body: read whole, or chunk by chunk with backpressure — once, either way. */
export interface UpstreamBody extends AsyncIterable<Buffer> {
  /** The whole body, once it has all arrived. */
  bytes(): Promise<Buffer>;
  /** Gives up on the rest of the body: the upstream exchange is aborted. */
  destroy(): void;
}

export interface UpstreamResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: UpstreamBody;
}

/** An answer already read whole, handed on as if it were arriving (a retry given up at shutdown). */
export function replayedResponse(head: Pick<UpstreamResponse, "statusCode" | "headers">, bytes: Buffer): UpstreamResponse {
  const body: UpstreamBody = {
    bytes: () => Promise.resolve(bytes),
    destroy: () => undefined,
    async *[Symbol.asyncIterator]() {
      if (bytes.length > 0) yield bytes;
    },
  };
  return { statusCode: head.statusCode, headers: head.headers, body };
}

/** Bytes of body buffered for a reader before the upstream connection is paused. */
const HIGH_WATER_MARK = 64 * 1024;

/** Why a body that nobody reads any more was cut short. */
class BodyDiscardedError extends Error {
  constructor() {
    super("upstream response body discarded");
    this.name = "BodyDiscardedError";
  }
}

/**
 * One exchange, as undici's dispatch handler: resolves the response at its headers, then buffers
 * body chunks for the one reader (pausing the connection when the reader falls behind).
 */
class UpstreamExchange implements Dispatcher.DispatchHandler, UpstreamBody {
  private controller: Dispatcher.DispatchController | undefined;
  private resolveHead: ((response: UpstreamResponse) => void) | undefined;
  private rejectHead: ((err: unknown) => void) | undefined;
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** A reader wants everything: no pausing. */
  private whole = false;
  private ended = false;
  private failure: unknown;
  private wake: (() => void) | undefined;
  private unlisten: (() => void) | undefined;

  constructor(private readonly cancellation: AbortSource) {}

  /** The response, once its headers arrived. */
  start(dispatch: (handler: Dispatcher.DispatchHandler) => void): Promise<UpstreamResponse> {
    const head = new Promise<UpstreamResponse>((resolve, reject) => {
      this.resolveHead = resolve;
      this.rejectHead = reject;
    });
    if (this.cancellation.aborted) {
      this.fail(this.cancellation.reason);
      return head;
    }
    this.unlisten = this.cancellation.onAbort((reason) => this.abort(reason));
    dispatch(this);
    return head;
  }

  // ---- undici's side ----

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Aborted while queued for a connection.
    if (this.failure !== undefined) controller.abort(this.failure as Error);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return; // 1xx informational answers are not the response
    const resolve = this.resolveHead;
    this.resolveHead = undefined;
    this.rejectHead = undefined;
    resolve?.({ statusCode, headers, body: this });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.ended) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    // A whole-body reader only needs waking at the end.
    if (this.whole) return;
    if (this.buffered >= HIGH_WATER_MARK) controller.pause();
    this.notify();
  }

  onResponseEnd(): void {
    if (this.ended) return;
    this.ended = true;
    this.release();
    this.notify();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.fail(err);
  }

  // ---- the reader's side ----

  async bytes(): Promise<Buffer> {
    this.whole = true;
    this.controller?.resume();
    while (!this.ended && this.failure === undefined) await this.arrival();
    if (this.failure !== undefined) throw this.failure;
    const chunks = this.chunks;
    this.chunks = [];
    this.buffered = 0;
    return chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks);
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return {
      next: async (): Promise<IteratorResult<Buffer>> => {
        for (;;) {
          const chunk = this.chunks.shift();
          if (chunk !== undefined) {
            this.buffered -= chunk.length;
            if (this.buffered < HIGH_WATER_MARK) this.controller?.resume();
            return { value: chunk, done: false };
          }
          if (this.failure !== undefined) throw this.failure;
          if (this.ended) return { value: undefined, done: true };
          await this.arrival();
        }
      },
      // Leaving a for-await loop early gives up on the rest, as a stream's iterator would.
      return: (): Promise<IteratorResult<Buffer>> => {
        this.destroy();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  destroy(): void {
    if (this.ended || this.failure !== undefined) return;
    this.abort(new BodyDiscardedError());
  }

  // ---- both ----

  private abort(reason: unknown): void {
    const controller = this.controller;
    this.fail(reason);
    // undici reports the abort through onResponseError, which finds the exchange already failed.
    controller?.abort(reason as Error);
  }

  private fail(err: unknown): void {
    if (this.ended || this.failure !== undefined) return;
    this.failure = err ?? new Error("upstream request aborted");
    this.chunks = [];
    this.buffered = 0;
    this.release();
    const reject = this.rejectHead;
    this.resolveHead = undefined;
    this.rejectHead = undefined;
    reject?.(this.failure);
    this.notify();
  }

  private release(): void {
    this.unlisten?.();
    this.unlisten = undefined;
  }

  /** Settles at the next chunk, end or failure (whole-body readers: at the end or failure). */
  private arrival(): Promise<void> {
    return new Promise<void>((resolve) => (this.wake = resolve));
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

type TunnelRequest = Omit<Dispatcher.ConnectOptions, "origin">;

/**
 * What asks a proxy for tunnels: a pool of connections to it, as undici's own default, so that
 * tunnels are set up side by side (one connection would ask for them one after another, each
 * behind a slow or silent one). Without a bound, a proxy that takes the connection and never
 * answers the CONNECT would hold each request for undici's 300 s headers timeout; here the wait
 * is `timeoutMs`, and running out is a connection failure (UND_ERR_CONNECT_TIMEOUT: retried as
 * one, reported as one), named for the proxy, not a silence of the provider's.
 */
class TunnelPool extends Pool {
  constructor(
    url: URL,
    options: Pool.Options,
    /** The proxy for messages: redactedProxyUrl. */
    private readonly proxyName: string,
    private readonly timeoutMs: number,
  ) {
    super(url, { ...options, headersTimeout: timeoutMs });
  }

  override connect(options: TunnelRequest): Promise<Dispatcher.ConnectData>;
  override connect(options: TunnelRequest, callback: (err: Error | null, data: Dispatcher.ConnectData) => void): void;
  override connect(options: TunnelRequest, callback?: (err: Error | null, data: Dispatcher.ConnectData) => void): Promise<Dispatcher.ConnectData> | void {
    // ProxyAgent asks without a callback; the callback form is left as undici has it.
    if (callback !== undefined) return super.connect(options, callback);
    return super.connect(options).catch((err: unknown) => {
      if ((err as { code?: unknown }).code !== "UND_ERR_HEADERS_TIMEOUT") throw err;
      throw new errors.ConnectTimeoutError(`the egress proxy ${this.proxyName} did not answer the CONNECT for ${options.path} within ${this.timeoutMs / 1000} s`);
    });
  }
}

/**
 * A ProxyAgent for `url`. Its credentials go as Basic Proxy-Authorization, a user name alone too
 * ("user:", as Go sends it; undici would send nothing without a password).
 */
function proxyAgent(url: URL, agentOptions: Agent.Options, tunnelTimeoutMs: number): ProxyAgent {
  const token = url.username === "" ? undefined : `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}`;
  const address = `${url.protocol}//${url.host}`;
  return new ProxyAgent({
    ...agentOptions,
    uri: address,
    ...(token === undefined ? {} : { token }),
    clientFactory: (origin, options) => new TunnelPool(new URL(origin), options, redactedProxyUrl(url), tunnelTimeoutMs),
  });
}

/** Where a provider's requests go through the egress proxy, and where directly. */
class ProxyRoutes {
  private readonly viaHttp: ProxyAgent | undefined;
  private readonly viaHttps: ProxyAgent | undefined;
  private readonly direct: (host: string, port: number) => boolean;
  /** Per origin (a gateway calls a handful: its providers' base URLs): decided once. */
  private readonly routes = new Map<string, Dispatcher>();

  constructor(
    private readonly agent: Agent,
    proxy: ResolvedUpstreamProxy,
    agentOptions: Agent.Options,
  ) {
    this.viaHttp = proxy.httpProxy === undefined ? undefined : proxyAgent(proxy.httpProxy, agentOptions, proxy.tunnelTimeoutMs);
    this.viaHttps = proxy.httpsProxy === undefined ? undefined : proxyAgent(proxy.httpsProxy, agentOptions, proxy.tunnelTimeoutMs);
    this.direct = noProxyMatcher(proxy.noProxy);
  }

  dispatcherFor(origin: string): Dispatcher {
    let route = this.routes.get(origin);
    if (route === undefined) {
      const url = new URL(origin);
      const port = url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
      const proxy = url.protocol === "https:" ? this.viaHttps : this.viaHttp;
      route = proxy === undefined || this.direct(url.hostname, port) ? this.agent : proxy;
      this.routes.set(origin, route);
    }
    return route;
  }

  get proxies(): Dispatcher[] {
    return [this.viaHttp, this.viaHttps].filter((p): p is ProxyAgent => p !== undefined);
  }
}

export class Upstream {
  private readonly agent: Agent;
  private readonly proxyRoutes: ProxyRoutes | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: UpstreamOptions) {
    const agentOptions: Agent.Options = {
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
      keepAliveMaxTimeout: 10 * 60_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    };
    this.agent = new Agent(agentOptions);
    // Tunnelled connections keep alive and time out as direct ones do.
    this.proxyRoutes = options.proxy === undefined ? undefined : new ProxyRoutes(this.agent, options.proxy, agentOptions);
  }

  /**
   * Sends a request; resolves at the response headers. The request is handed to the connection
   * pool synchronously, before this returns.
   */
  request(target: UpstreamTarget, request: UpstreamRequest): Promise<UpstreamResponse> {
    const options: Dispatcher.DispatchOptions = {
      origin: target.origin,
      path: target.path,
      method: request.method as Dispatcher.HttpMethod,
      headers: request.headers,
      body: request.body ?? null,
    };
    const dispatcher = this.proxyRoutes === undefined ? this.agent : this.proxyRoutes.dispatcherFor(target.origin);
    return new UpstreamExchange(request.cancellation).start((handler) => dispatcher.dispatch(options, handler));
  }

  /** Closes every connection: gracefully, then forcibly after `graceMs`. */
  close(graceMs = 1_000): Promise<void> {
    this.closing ??= this.closeOnce(graceMs);
    return this.closing;
  }

  private async closeOnce(graceMs: number): Promise<void> {
    const dispatchers: Dispatcher[] = [this.agent, ...(this.proxyRoutes?.proxies ?? [])];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        Promise.all(dispatchers.map((d) => d.destroy())).then(() => resolve(), () => resolve());
      }, graceMs);
    });
    try {
      await Promise.race([Promise.all(dispatchers.map((d) => d.close())), forced]);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }
}

/** Creates the upstream client. */
export function createUpstream(options: UpstreamOptions): Upstream {
  return new Upstream(options);
}
