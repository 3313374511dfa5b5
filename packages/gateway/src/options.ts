// The gateway's one typed, frozen options object and its defaults (CONVENTIONS
// "Configuration"). Nothing here reads the environment: the CLI maps flags and WEIR_* variables
// onto these options.

import { resolve } from "node:path";
import type { Transport } from "@connectrpc/connect";
import { API_VERSION } from "@weir/proto";
import { pino } from "pino";
import type { Logger } from "pino";
import { DEFAULT_AUTH_CACHE_OPTIONS } from "./auth-cache.js";
import { DEFAULT_CIRCUIT_BREAKER_SETTINGS } from "./circuit-breaker.js";
import type { CircuitBreakerSettings } from "./circuit-breaker.js";
import type { Clock } from "./clock.js";
import { systemClock } from "./clock.js";
import type { AuthorizedUser } from "./control-plane-client.js";
import type { FatalStartupError } from "./errors.js";
import { DEFAULT_RECORD_QUEUE_OPTIONS } from "./record-queue.js";
import type { TlsFiles } from "./tls-files.js";
import { DEFAULT_TUNNEL_TIMEOUT_MS, proxyUrl, type UpstreamProxySettings } from "./upstream-proxy.js";
import { MAX_UPSTREAM_RETRIES } from "./upstream-retry.js";

/** One upstream provider. */
export interface ProviderOptions {
  readonly baseUrl: string;
  /**
   * Centralized-mode keys in order: the first is used until the provider refuses it (429, 401,
   * 403), then the next (provider-key-pool.ts). SECURITY: secrets; never logged.
   */
  readonly apiKeys: readonly string[];
}

/** What callers give for one provider: one key, or several. SECURITY: secrets; never logged. */
export interface ProviderOptionsInput {
  readonly baseUrl?: string;
  readonly apiKey?: string | undefined;
  readonly apiKeys?: readonly string[];
}

/** Every setting of a gateway, resolved. */
export interface GatewayOptions {
  /** Control plane base URL, e.g. "http://127.0.0.1:7080" (HTTP/2 cleartext) or https. */
  readonly controlPlaneUrl: string;
  /** The shared gateway key. SECURITY: never logged; only its first 11 characters (prefix). */
  readonly gatewayKey: string;
  readonly listen: { readonly host: string; readonly port: number };
  /**
   * PEM certificate and key: the listener serves HTTPS (HTTP/1.1, TLS 1.2 or later) instead of
   * cleartext HTTP. Read and checked at start(), and again by reloadTls(). Undefined: cleartext
   * (and always when embedded).
   */
  readonly tls: TlsFiles | undefined;
  readonly openai: ProviderOptions;
  readonly anthropic: ProviderOptions;
  /** Allow requests that bring their own provider key (X-AI-Governance-Token). */
  readonly allowByok: boolean;
  /** Name the user to the provider in X-AI-Bridge-Actor-ID / -Metadata-Username (reference SendActorHeaders). */
  readonly sendActorHeaders: boolean;
  /**
   * Export the process's own metrics on /metrics too (CPU, resident memory, heap, event-loop
   * delay, garbage collection: prom-client's defaults, prefixed weir_gateway_). Once per process:
   * `weir gateway` turns it on; an embedded gateway leaves it to its control plane's.
   */
  readonly processMetrics: boolean;
  /** LLM requests served at once; beyond it new ones get 503 (reference MaxConcurrency). 0: no limit. */
  readonly maxConcurrency: number;
  /** Requests per second per user credential; beyond it 429 with Retry-After (reference RateLimit). 0: no limit. */
  readonly rateLimit: number;
  /** Per provider × route × model: failing providers get no requests for a while (circuit-breaker.ts). Off by default. */
  readonly circuitBreaker: CircuitBreakerSettings & { readonly enabled: boolean };
  /** Deadline of one upstream request, streaming included. */
  readonly upstreamTimeoutMs: number;
  /**
   * Times an LLM request the provider failed before answering (no connection, 408, 409, 429,
   * >= 500) is sent again, with the SDKs' backoff (upstream-retry.ts). 0: never (the default).
   */
  readonly upstreamMaxRetries: number;
  /** The egress proxy provider requests go through (upstream-proxy.ts); undefined: none. */
  readonly upstreamProxy: ResolvedUpstreamProxy | undefined;
  /** How long shutdown() lets in-flight requests finish before aborting them. */
  readonly shutdownTimeoutMs: number;
  /** How long shutdown() waits for queued records to be delivered. */
  readonly recordFlushTimeoutMs: number;
  /**
   * Where records not delivered by the flush deadline are written instead of dropped, and read
   * back from at start-up (record-spool.ts). Undefined: they are dropped.
   */
  readonly recordSpoolDir: string | undefined;
  /**
   * With recordSpoolDir: once a record has waited this long on the control plane, the queue is
   * checkpointed to the spool this often (record-checkpoint.ts); 0: never.
   */
  readonly recordCheckpointMs: number;
  /** Deadline of each control-plane RPC. */
  readonly rpcTimeoutMs: number;
  /**
   * Most records waiting for delivery (with RecordBatch the interception starts too); beyond it
   * records are dropped (counted), and a refused interception start fails its request.
   */
  readonly recordQueueSize: number;
  /** Per-record RPCs in flight at once against a 1.0 control plane (no RecordBatch). */
  readonly recordConcurrency: number;
  /**
   * Record batching (API 1.1 RecordBatch): records per call, how long a record may wait for a
   * fuller batch, calls in flight, approximate bytes per call, and how long an interception
   * start may wait for its end to travel with it (record-queue.ts).
   */
  readonly recordBatch: {
    readonly maxRecords: number;
    readonly lingerMs: number;
    readonly maxInFlight: number;
    readonly maxBytes: number;
    readonly holdStartMs: number;
  };
  /**
   * IsAuthorized cache (API 1.1): used only while the control plane pushes authorization
   * changes; allowed answers live at most ttlMs (≤ 60 s), refusals negativeTtlMs (≤ 5 s).
   * enabled false: every request asks the control plane.
   */
  readonly authCache: { readonly enabled: boolean; readonly maxEntries: number; readonly ttlMs: number; readonly negativeTtlMs: number };
  /** Per-user handler pool bounds. */
  readonly pool: { readonly maxItems: number; readonly ttlMs: number };
  /** Largest request body accepted on LLM routes. */
  readonly maxRequestBodyBytes: number;
  /**
   * Largest single SSE event (in characters) an upstream stream may send: an event is held until
   * it is complete, so a provider that never ends one would otherwise grow the replica's memory
   * until it dies, with every stream it relays.
   */
  readonly maxUpstreamEventChars: number;
  /**
   * Request bodies of at least this many bytes are judged, decoded and parsed on a worker thread
   * (parse-thread.ts) instead of the event loop, which they would otherwise hold up about 10 ms
   * per MiB; smaller ones are parsed inline, where the round trip would cost more than it saves.
   * 0 sends every body to the thread.
   */
  readonly offThreadParseBytes: number;
  /**
   * How long one event-loop turn may spend starting requests before the rest of a burst waits
   * for the next turn (start-pacer.ts), so the streams already relaying keep their pace when
   * many clients connect at once. 0 starts every request at once.
   */
  readonly startBudgetMs: number;
  /** "MAJOR.MINOR" spoken to the control plane. Overridable for compatibility tests. */
  readonly apiVersion: string;
  readonly logger: Logger;
  readonly clock: Clock;
  /**
   * Runs when a per-user handler is built (a pool miss), before the user's request is served;
   * a rejection fails that request with 500 "failed to acquire request handler".
   */
  readonly onHandlerCreate: ((user: AuthorizedUser) => void | Promise<void>) | undefined;
  /** A fatal control-plane answer after start() resolved (e.g. the gateway key was deleted). */
  readonly onFatalError: ((err: FatalStartupError) => void) | undefined;
  /**
   * Embedded mode: the control plane's in-process Connect transport
   * (ControlPlane#createInProcessTransport()). The gateway then opens no listener — mount
   * Gateway#handler instead — and controlPlaneUrl and gatewayKey are empty.
   */
  readonly controlPlaneTransport: Transport | undefined;
}

/** What callers pass: the two required settings plus any overrides. */
export interface GatewayOptionsInput {
  readonly controlPlaneUrl: string;
  readonly gatewayKey: string;
  readonly listen?: { readonly host?: string; readonly port?: number };
  readonly tls?: TlsFiles | undefined;
  readonly openai?: ProviderOptionsInput;
  readonly anthropic?: ProviderOptionsInput;
  readonly allowByok?: boolean;
  readonly sendActorHeaders?: boolean;
  readonly processMetrics?: boolean;
  readonly maxConcurrency?: number;
  readonly rateLimit?: number;
  readonly circuitBreaker?: Partial<CircuitBreakerSettings> & { readonly enabled?: boolean };
  readonly upstreamTimeoutMs?: number;
  readonly upstreamMaxRetries?: number;
  /** An egress proxy for provider requests (`weir gateway` takes HTTPS_PROXY, HTTP_PROXY, NO_PROXY). */
  readonly upstreamProxy?: UpstreamProxySettings;
  readonly shutdownTimeoutMs?: number;
  readonly recordFlushTimeoutMs?: number;
  readonly recordSpoolDir?: string;
  readonly recordCheckpointMs?: number;
  readonly rpcTimeoutMs?: number;
  readonly recordQueueSize?: number;
  readonly recordConcurrency?: number;
  readonly recordBatch?: {
    readonly maxRecords?: number;
    readonly lingerMs?: number;
    readonly maxInFlight?: number;
    readonly maxBytes?: number;
    readonly holdStartMs?: number;
  };
  readonly authCache?: { readonly enabled?: boolean; readonly maxEntries?: number; readonly ttlMs?: number; readonly negativeTtlMs?: number };
  readonly pool?: { readonly maxItems?: number; readonly ttlMs?: number };
  readonly maxRequestBodyBytes?: number;
  readonly maxUpstreamEventChars?: number;
  readonly offThreadParseBytes?: number;
  readonly startBudgetMs?: number;
  readonly apiVersion?: string;
  /** Default: pino at info level to stdout, named "weir-gateway". */
  readonly logger?: Logger;
  /** Default: the system clock. */
  readonly clock?: Clock;
  readonly onHandlerCreate?: (user: AuthorizedUser) => void | Promise<void>;
  readonly onFatalError?: (err: FatalStartupError) => void;
}

/**
 * Embedded mode (a gateway inside the control plane's process): the control plane's in-process
 * transport instead of its URL and a gateway key, and no listener of its own.
 */
export interface EmbeddedGatewayOptionsInput extends Omit<GatewayOptionsInput, "controlPlaneUrl" | "gatewayKey" | "listen" | "tls" | "processMetrics" | "recordSpoolDir" | "recordCheckpointMs"> {
  readonly controlPlaneTransport: Transport;
}

/** Defaults of every optional setting (logger and clock excepted, see GatewayOptionsInput). */
export const DEFAULT_GATEWAY_OPTIONS = Object.freeze({
  listen: Object.freeze({ host: "127.0.0.1", port: 7081 }),
  openai: Object.freeze({ baseUrl: "https://api.openai.com/v1" }),
  anthropic: Object.freeze({ baseUrl: "https://api.anthropic.com" }),
  allowByok: false,
  sendActorHeaders: false,
  processMetrics: false,
  maxConcurrency: 0,
  rateLimit: 0,
  circuitBreaker: Object.freeze({ enabled: false, ...DEFAULT_CIRCUIT_BREAKER_SETTINGS }),
  upstreamTimeoutMs: 600_000,
  upstreamMaxRetries: 0,
  shutdownTimeoutMs: 30_000,
  recordFlushTimeoutMs: 10_000,
  recordCheckpointMs: 5_000,
  rpcTimeoutMs: 5_000,
  recordQueueSize: 10_000,
  recordConcurrency: 4,
  recordBatch: DEFAULT_RECORD_QUEUE_OPTIONS.limits,
  authCache: Object.freeze({ enabled: true, ...DEFAULT_AUTH_CACHE_OPTIONS }),
  pool: Object.freeze({ maxItems: 5000, ttlMs: 15 * 60_000 }),
  maxRequestBodyBytes: 32 * 1024 * 1024,
  // Well above the largest real events (a server tool's fetched document, base64).
  maxUpstreamEventChars: 128 * 1024 * 1024,
  offThreadParseBytes: 1024 * 1024,
  // Measured with 1,000 streams starting at once (test/bench): a few requests' start each turn.
  // 2 ms gave lower gaps than 4 ms on the 2-core AMD host (README, "Bursts of requests").
  startBudgetMs: 2,
  apiVersion: API_VERSION,
});

/** Longest authCache.ttlMs: an allowed answer is trusted at most this long even without a push. */
export const MAX_AUTH_CACHE_TTL_MS = 60_000;
/** Longest authCache.negativeTtlMs (refusals are cached only against a client hammering with a bad key). */
export const MAX_AUTH_CACHE_NEGATIVE_TTL_MS = 5_000;
/** Largest startBudgetMs (start-pacer.ts). */
export const MAX_START_BUDGET_MS = 1_000;

/** The options are unusable. */
export class InvalidGatewayOptionsError extends Error {
  override readonly name = "InvalidGatewayOptionsError";
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new InvalidGatewayOptionsError(`${name} must be a positive number, got ${value}`);
  return value;
}

/** Node's timers hold at most 2^31 - 1 ms; a longer one fires after 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

/** A positive wait that a timer waits out. */
function timer(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0 || value > MAX_TIMER_MS) throw new InvalidGatewayOptionsError(`${name} must be above 0 and at most ${MAX_TIMER_MS} ms, got ${value}`);
  return value;
}

/** A spool directory, made absolute so that a later chdir cannot move it; "" is refused, not ignored. */
function spoolDir(dir: string | undefined): string | undefined {
  if (dir === undefined) return undefined;
  if (dir.trim() === "") throw new InvalidGatewayOptionsError("recordSpoolDir must name a directory, got an empty string");
  return resolve(dir);
}

/** 0 (off) or a wait a timer waits out. */
function checkpointInterval(value: number): number {
  return value === 0 ? 0 : timer("recordCheckpointMs", value);
}

function wholePositive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new InvalidGatewayOptionsError(`${name} must be a positive whole number, got ${value}`);
  return value;
}

function atMost(name: string, value: number, max: number): number {
  if (!Number.isFinite(value) || value < 0 || value > max) throw new InvalidGatewayOptionsError(`${name} must be between 0 and ${max}, got ${value}`);
  return value;
}

function limit(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidGatewayOptionsError(`${name} must be a whole number, 0 for no limit, got ${value}`);
  return value;
}

function byteCount(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidGatewayOptionsError(`${name} must be a whole number of bytes, got ${value}`);
  return value;
}

function retries(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_UPSTREAM_RETRIES) {
    throw new InvalidGatewayOptionsError(`${name} must be a whole number from 0 to ${MAX_UPSTREAM_RETRIES}, got ${value}`);
  }
  return value;
}

function url(name: string, value: string): string {
  try {
    const parsed = new URL(value);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error(parsed.protocol);
  } catch {
    throw new InvalidGatewayOptionsError(`${name} must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The proxy settings checked; undefined when no proxy is set. */
export interface ResolvedUpstreamProxy {
  readonly httpProxy: URL | undefined;
  readonly httpsProxy: URL | undefined;
  readonly noProxy: string;
  readonly tunnelTimeoutMs: number;
}

function upstreamProxy(input: UpstreamProxySettings | undefined): ResolvedUpstreamProxy | undefined {
  const given = (value: string | undefined) => (value === undefined || value.trim() === "" ? undefined : value);
  const http = given(input?.httpProxy);
  const https = given(input?.httpsProxy);
  if (http === undefined && https === undefined) return undefined;
  try {
    return Object.freeze({
      httpProxy: http === undefined ? undefined : proxyUrl("upstreamProxy.httpProxy", http),
      httpsProxy: https === undefined ? undefined : proxyUrl("upstreamProxy.httpsProxy", https),
      noProxy: input?.noProxy ?? "",
      tunnelTimeoutMs: timer("upstreamProxy.tunnelTimeoutMs", input?.tunnelTimeoutMs ?? DEFAULT_TUNNEL_TIMEOUT_MS),
    });
  } catch (err) {
    throw new InvalidGatewayOptionsError((err as Error).message);
  }
}

function tlsFiles(input: TlsFiles | undefined): TlsFiles | undefined {
  if (input === undefined) return undefined;
  for (const name of ["certFile", "keyFile"] as const) {
    const path: unknown = input[name];
    if (typeof path !== "string" || path.trim() === "") throw new InvalidGatewayOptionsError(`tls.${name} must be a file path, got ${JSON.stringify(path)}`);
  }
  return Object.freeze({ certFile: input.certFile, keyFile: input.keyFile });
}

function providerOptions(name: string, input: ProviderOptionsInput | undefined, defaultBaseUrl: string): ProviderOptions {
  if (input?.apiKey !== undefined && input.apiKeys !== undefined) throw new InvalidGatewayOptionsError(`${name}: give apiKey or apiKeys, not both`);
  // A single empty key means "none" (an empty variable is an unset one).
  const single = input?.apiKey !== undefined && input.apiKey.trim() !== "" ? [input.apiKey] : [];
  return Object.freeze({ baseUrl: url(`${name}.baseUrl`, input?.baseUrl ?? defaultBaseUrl), apiKeys: checkedApiKeys(name, input?.apiKeys ?? single) });
}

/** Central keys as given, checked: none empty, none twice. */
export function checkedApiKeys(name: string, keys: readonly string[]): readonly string[] {
  const apiKeys = Object.freeze([...keys]);
  if (apiKeys.some((k) => typeof k !== "string" || k.trim() === "")) throw new InvalidGatewayOptionsError(`${name}: an API key is empty`);
  if (new Set(apiKeys).size !== apiKeys.length) throw new InvalidGatewayOptionsError(`${name}: an API key is given twice`);
  return apiKeys;
}

// The embedded options: every shared setting resolved and validated like a networked
// gateway's, with the network-only settings left empty.
function resolveEmbeddedGatewayOptions({ controlPlaneTransport, ...shared }: EmbeddedGatewayOptionsInput): GatewayOptions {
  if (controlPlaneTransport === undefined || controlPlaneTransport === null) throw new InvalidGatewayOptionsError("controlPlaneTransport is required");
  const resolved = resolveGatewayOptions({ ...shared, controlPlaneUrl: "http://control-plane.in-process", gatewayKey: "in-process" });
  // Its process's metrics are the control plane's (exported twice, they would disagree on nothing
  // but their names).
  return Object.freeze({ ...resolved, controlPlaneUrl: "", gatewayKey: "", tls: undefined, processMetrics: false, recordSpoolDir: undefined, controlPlaneTransport });
}

/** Applies the defaults, validates, and freezes. */
export function resolveGatewayOptions(input: GatewayOptionsInput | EmbeddedGatewayOptionsInput): GatewayOptions {
  if ("controlPlaneTransport" in input) return resolveEmbeddedGatewayOptions(input);
  const d = DEFAULT_GATEWAY_OPTIONS;
  if (typeof input.gatewayKey !== "string" || input.gatewayKey.trim() === "") {
    throw new InvalidGatewayOptionsError("gatewayKey is required");
  }
  const port = input.listen?.port ?? d.listen.port;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new InvalidGatewayOptionsError(`listen.port must be 0-65535, got ${port}`);
  const apiVersion = input.apiVersion ?? d.apiVersion;
  if (!/^\d+\.\d+$/.test(apiVersion)) throw new InvalidGatewayOptionsError(`apiVersion must be "MAJOR.MINOR", got ${JSON.stringify(apiVersion)}`);
  return Object.freeze({
    controlPlaneUrl: url("controlPlaneUrl", input.controlPlaneUrl),
    gatewayKey: input.gatewayKey.trim(),
    listen: Object.freeze({ host: input.listen?.host ?? d.listen.host, port }),
    tls: tlsFiles(input.tls),
    openai: providerOptions("openai", input.openai, d.openai.baseUrl),
    anthropic: providerOptions("anthropic", input.anthropic, d.anthropic.baseUrl),
    allowByok: input.allowByok ?? d.allowByok,
    sendActorHeaders: input.sendActorHeaders ?? d.sendActorHeaders,
    processMetrics: input.processMetrics ?? d.processMetrics,
    maxConcurrency: limit("maxConcurrency", input.maxConcurrency ?? d.maxConcurrency),
    rateLimit: limit("rateLimit", input.rateLimit ?? d.rateLimit),
    circuitBreaker: Object.freeze({
      enabled: input.circuitBreaker?.enabled ?? d.circuitBreaker.enabled,
      failureThreshold: wholePositive("circuitBreaker.failureThreshold", input.circuitBreaker?.failureThreshold ?? d.circuitBreaker.failureThreshold),
      intervalMs: atMost("circuitBreaker.intervalMs", input.circuitBreaker?.intervalMs ?? d.circuitBreaker.intervalMs, 365 * 86_400_000),
      timeoutMs: positive("circuitBreaker.timeoutMs", input.circuitBreaker?.timeoutMs ?? d.circuitBreaker.timeoutMs),
      maxRequests: wholePositive("circuitBreaker.maxRequests", input.circuitBreaker?.maxRequests ?? d.circuitBreaker.maxRequests),
    }),
    upstreamTimeoutMs: timer("upstreamTimeoutMs", input.upstreamTimeoutMs ?? d.upstreamTimeoutMs),
    upstreamMaxRetries: retries("upstreamMaxRetries", input.upstreamMaxRetries ?? d.upstreamMaxRetries),
    upstreamProxy: upstreamProxy(input.upstreamProxy),
    shutdownTimeoutMs: timer("shutdownTimeoutMs", input.shutdownTimeoutMs ?? d.shutdownTimeoutMs),
    recordFlushTimeoutMs: timer("recordFlushTimeoutMs", input.recordFlushTimeoutMs ?? d.recordFlushTimeoutMs),
    recordSpoolDir: spoolDir(input.recordSpoolDir),
    recordCheckpointMs: checkpointInterval(input.recordCheckpointMs ?? d.recordCheckpointMs),
    rpcTimeoutMs: timer("rpcTimeoutMs", input.rpcTimeoutMs ?? d.rpcTimeoutMs),
    recordQueueSize: positive("recordQueueSize", input.recordQueueSize ?? d.recordQueueSize),
    recordConcurrency: positive("recordConcurrency", input.recordConcurrency ?? d.recordConcurrency),
    recordBatch: Object.freeze({
      maxRecords: positive("recordBatch.maxRecords", input.recordBatch?.maxRecords ?? d.recordBatch.maxRecords),
      lingerMs: atMost("recordBatch.lingerMs", input.recordBatch?.lingerMs ?? d.recordBatch.lingerMs, 60_000),
      maxInFlight: positive("recordBatch.maxInFlight", input.recordBatch?.maxInFlight ?? d.recordBatch.maxInFlight),
      maxBytes: positive("recordBatch.maxBytes", input.recordBatch?.maxBytes ?? d.recordBatch.maxBytes),
      holdStartMs: atMost("recordBatch.holdStartMs", input.recordBatch?.holdStartMs ?? d.recordBatch.holdStartMs, 60_000),
    }),
    authCache: Object.freeze({
      enabled: input.authCache?.enabled ?? d.authCache.enabled,
      maxEntries: positive("authCache.maxEntries", input.authCache?.maxEntries ?? d.authCache.maxEntries),
      ttlMs: atMost("authCache.ttlMs", input.authCache?.ttlMs ?? d.authCache.ttlMs, MAX_AUTH_CACHE_TTL_MS),
      negativeTtlMs: atMost("authCache.negativeTtlMs", input.authCache?.negativeTtlMs ?? d.authCache.negativeTtlMs, MAX_AUTH_CACHE_NEGATIVE_TTL_MS),
    }),
    pool: Object.freeze({
      maxItems: positive("pool.maxItems", input.pool?.maxItems ?? d.pool.maxItems),
      ttlMs: positive("pool.ttlMs", input.pool?.ttlMs ?? d.pool.ttlMs),
    }),
    maxRequestBodyBytes: positive("maxRequestBodyBytes", input.maxRequestBodyBytes ?? d.maxRequestBodyBytes),
    maxUpstreamEventChars: positive("maxUpstreamEventChars", input.maxUpstreamEventChars ?? d.maxUpstreamEventChars),
    offThreadParseBytes: byteCount("offThreadParseBytes", input.offThreadParseBytes ?? d.offThreadParseBytes),
    startBudgetMs: atMost("startBudgetMs", input.startBudgetMs ?? d.startBudgetMs, MAX_START_BUDGET_MS),
    apiVersion,
    logger: input.logger ?? pino({ name: "weir-gateway" }),
    clock: input.clock ?? systemClock,
    onHandlerCreate: input.onHandlerCreate,
    onFatalError: input.onFatalError,
    controlPlaneTransport: undefined,
  });
}
