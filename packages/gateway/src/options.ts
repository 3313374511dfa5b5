// The gateway's one typed, frozen options object and its defaults (CONVENTIONS
// "Configuration"). Nothing here reads the environment: the CLI maps flags and WEIR_* variables
// onto these options.

import { API_VERSION } from "@weir/proto";
import { pino } from "pino";
import type { Logger } from "pino";
import type { Clock } from "./clock.js";
import { systemClock } from "./clock.js";
import type { AuthorizedUser } from "./control-plane-client.js";
import type { FatalStartupError } from "./errors.js";

/** One upstream provider. */
export interface ProviderOptions {
  readonly baseUrl: string;
  /** Centralized-mode key sent upstream. SECURITY: secret; never logged. */
  readonly apiKey?: string | undefined;
}

/** Every setting of a gateway, resolved. */
export interface GatewayOptions {
  /** Control plane base URL, e.g. "http://127.0.0.1:7080" (HTTP/2 cleartext) or https. */
  readonly controlPlaneUrl: string;
  /** The shared gateway key. SECURITY: never logged; only its first 11 characters (prefix). */
  readonly gatewayKey: string;
  readonly listen: { readonly host: string; readonly port: number };
  readonly openai: ProviderOptions;
  readonly anthropic: ProviderOptions;
  /** Allow requests that bring their own provider key (X-AI-Governance-Token). */
  readonly allowByok: boolean;
  /** Deadline of one upstream request, streaming included. */
  readonly upstreamTimeoutMs: number;
  /** How long shutdown() lets in-flight requests finish before aborting them. */
  readonly shutdownTimeoutMs: number;
  /** How long shutdown() waits for queued records to be delivered. */
  readonly recordFlushTimeoutMs: number;
  /** Deadline of each control-plane RPC. */
  readonly rpcTimeoutMs: number;
  /** Most follow-up records waiting for delivery; beyond it records are dropped (counted). */
  readonly recordQueueSize: number;
  /** Follow-up record RPCs in flight at once. */
  readonly recordConcurrency: number;
  /** Per-user handler pool bounds. */
  readonly pool: { readonly maxItems: number; readonly ttlMs: number };
  /** Largest request body accepted on LLM routes. */
  readonly maxRequestBodyBytes: number;
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
}

/** What callers pass: the two required settings plus any overrides. */
export interface GatewayOptionsInput {
  readonly controlPlaneUrl: string;
  readonly gatewayKey: string;
  readonly listen?: { readonly host?: string; readonly port?: number };
  readonly openai?: Partial<ProviderOptions>;
  readonly anthropic?: Partial<ProviderOptions>;
  readonly allowByok?: boolean;
  readonly upstreamTimeoutMs?: number;
  readonly shutdownTimeoutMs?: number;
  readonly recordFlushTimeoutMs?: number;
  readonly rpcTimeoutMs?: number;
  readonly recordQueueSize?: number;
  readonly recordConcurrency?: number;
  readonly pool?: { readonly maxItems?: number; readonly ttlMs?: number };
  readonly maxRequestBodyBytes?: number;
  readonly apiVersion?: string;
  /** Default: pino at info level to stdout, named "weir-gateway". */
  readonly logger?: Logger;
  /** Default: the system clock. */
  readonly clock?: Clock;
  readonly onHandlerCreate?: (user: AuthorizedUser) => void | Promise<void>;
  readonly onFatalError?: (err: FatalStartupError) => void;
}

/** Defaults of every optional setting (logger and clock excepted, see GatewayOptionsInput). */
export const DEFAULT_GATEWAY_OPTIONS = Object.freeze({
  listen: Object.freeze({ host: "127.0.0.1", port: 7081 }),
  openai: Object.freeze({ baseUrl: "https://api.openai.com/v1" }),
  anthropic: Object.freeze({ baseUrl: "https://api.anthropic.com" }),
  allowByok: false,
  upstreamTimeoutMs: 600_000,
  shutdownTimeoutMs: 30_000,
  recordFlushTimeoutMs: 10_000,
  rpcTimeoutMs: 5_000,
  recordQueueSize: 10_000,
  recordConcurrency: 4,
  pool: Object.freeze({ maxItems: 5000, ttlMs: 15 * 60_000 }),
  maxRequestBodyBytes: 32 * 1024 * 1024,
  apiVersion: API_VERSION,
});

/** The options are unusable. */
export class InvalidGatewayOptionsError extends Error {
  override readonly name = "InvalidGatewayOptionsError";
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new InvalidGatewayOptionsError(`${name} must be a positive number, got ${value}`);
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

/** Applies the defaults, validates, and freezes. */
export function resolveGatewayOptions(input: GatewayOptionsInput): GatewayOptions {
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
    openai: Object.freeze({
      baseUrl: url("openai.baseUrl", input.openai?.baseUrl ?? d.openai.baseUrl),
      apiKey: input.openai?.apiKey,
    }),
    anthropic: Object.freeze({
      baseUrl: url("anthropic.baseUrl", input.anthropic?.baseUrl ?? d.anthropic.baseUrl),
      apiKey: input.anthropic?.apiKey,
    }),
    allowByok: input.allowByok ?? d.allowByok,
    upstreamTimeoutMs: positive("upstreamTimeoutMs", input.upstreamTimeoutMs ?? d.upstreamTimeoutMs),
    shutdownTimeoutMs: positive("shutdownTimeoutMs", input.shutdownTimeoutMs ?? d.shutdownTimeoutMs),
    recordFlushTimeoutMs: positive("recordFlushTimeoutMs", input.recordFlushTimeoutMs ?? d.recordFlushTimeoutMs),
    rpcTimeoutMs: positive("rpcTimeoutMs", input.rpcTimeoutMs ?? d.rpcTimeoutMs),
    recordQueueSize: positive("recordQueueSize", input.recordQueueSize ?? d.recordQueueSize),
    recordConcurrency: positive("recordConcurrency", input.recordConcurrency ?? d.recordConcurrency),
    pool: Object.freeze({
      maxItems: positive("pool.maxItems", input.pool?.maxItems ?? d.pool.maxItems),
      ttlMs: positive("pool.ttlMs", input.pool?.ttlMs ?? d.pool.ttlMs),
    }),
    maxRequestBodyBytes: positive("maxRequestBodyBytes", input.maxRequestBodyBytes ?? d.maxRequestBodyBytes),
    apiVersion,
    logger: input.logger ?? pino({ name: "weir-gateway" }),
    clock: input.clock ?? systemClock,
    onHandlerCreate: input.onHandlerCreate,
    onFatalError: input.onFatalError,
  });
}
