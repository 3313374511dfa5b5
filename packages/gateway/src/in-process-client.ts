// The in-process client (reference §6 "In-process transport"): an undici Dispatcher, or a
// fetch-compatible function built on it, bound to one provider, for code running in the
// gateway's process — an agent, a scheduled job — acting for a user whose API key id it knows.
// Requests never touch the network (in-memory-connections.ts) and every one must name a
// delegated API key id: in the X-AI-Governance-Delegated-Api-Key-Id header, or the id the client
// was created with. Without one the request is refused before it reaches the handler.
//
// Like the reference, the path is rewritten to /api/v2/ai-gateway/<provider>/<original path>,
// so `inProcessFetch("openai")("http://gateway/v1/chat/completions", …)` and the official SDKs
// with `fetch` (and any baseURL whose path is the provider's API root) just work.

import { Pool, Request as UndiciRequest, fetch as undiciFetch } from "undici";
import type { Dispatcher, RequestInit as UndiciRequestInit } from "undici";
import { DELEGATED_API_KEY_ID_HEADER, delegatedApiKeyIdValue } from "./delegation.js";
import { DelegatedApiKeyIdRequiredError } from "./errors.js";
import type { InMemoryConnections } from "./in-memory-connections.js";
import { ALIAS_PREFIX, PROVIDER_PREFIXES } from "./routes.js";
import type { ProviderName } from "./routes.js";

/** The origin in-process requests claim (Host header); nothing resolves or dials it. */
export const IN_PROCESS_ORIGIN = "http://gateway.in-process";

export interface InProcessClientOptions {
  /**
   * The delegated API key id of requests that do not name one in
   * X-AI-Governance-Delegated-Api-Key-Id. The caller is responsible for having established that
   * the key's owner authorized the request: the gateway checks only that the key exists, has
   * not expired and belongs to an active, non-system user — never the secret, which the caller
   * does not have.
   */
  readonly apiKeyId?: string;
}

/** A `fetch` whose requests go to the gateway in memory. */
export type InProcessFetch = typeof globalThis.fetch;

type DispatchHeaders = Dispatcher.DispatchOptions["headers"];
type HeaderValue = string | string[];

/** Any of undici's header shapes (flat array, pairs, iterable, object) as a lowercase record. */
function headerRecord(headers: DispatchHeaders): Record<string, HeaderValue> {
  const out: Record<string, HeaderValue> = {};
  const add = (name: string, value: unknown): void => {
    if (value === undefined || value === null) return;
    const key = name.toLowerCase();
    const added = Array.isArray(value) ? value.map(String) : String(value);
    const previous = out[key];
    out[key] = previous === undefined ? added : [previous, added].flat();
  };
  if (headers === undefined || headers === null) return out;
  if (Array.isArray(headers) && (headers.length === 0 || typeof headers[0] === "string")) {
    const flat = headers as readonly string[];
    for (let i = 0; i + 1 < flat.length; i += 2) add(flat[i] ?? "", flat[i + 1]);
    return out;
  }
  if (Symbol.iterator in headers) {
    for (const [name, value] of headers as Iterable<[string, unknown]>) add(name, value);
    return out;
  }
  for (const [name, value] of Object.entries(headers)) add(name, value);
  return out;
}

function checkProvider(provider: ProviderName): void {
  if (!Object.hasOwn(PROVIDER_PREFIXES, provider)) throw new TypeError(`unknown provider ${JSON.stringify(provider)}: expected one of ${Object.keys(PROVIDER_PREFIXES).join(", ")}`);
}

function boundApiKeyId(options: InProcessClientOptions): string | undefined {
  if (options.apiKeyId === undefined) return undefined;
  const id = delegatedApiKeyIdValue(options.apiKeyId);
  if (id === undefined) throw new DelegatedApiKeyIdRequiredError();
  return id;
}

/** `/v1/chat/completions` → `/api/v2/ai-gateway/openai/v1/chat/completions` (query kept). */
export function inProcessPath(provider: ProviderName, path: string): string {
  return `${ALIAS_PREFIX}/${provider}${path.startsWith("/") ? "" : "/"}${path}`;
}

/**
 * A Dispatcher for one provider over in-memory connections to the gateway. Each request is
 * refused (dispatch throws DelegatedApiKeyIdRequiredError) unless it names a delegated API key
 * id or the dispatcher was created with one. close()/destroy() end only this dispatcher's
 * connections.
 */
export function createInProcessDispatcher(connections: InMemoryConnections, provider: ProviderName, options: InProcessClientOptions = {}): Dispatcher {
  checkProvider(provider);
  const bound = boundApiKeyId(options);
  const pool = new Pool(IN_PROCESS_ORIGIN, { connect: connections.connector(true) });
  return pool.compose((dispatch) => (opts, handler) => {
    const headers = headerRecord(opts.headers);
    const apiKeyId = delegatedApiKeyIdValue(headers[DELEGATED_API_KEY_ID_HEADER]) ?? bound;
    if (apiKeyId === undefined) throw new DelegatedApiKeyIdRequiredError();
    headers[DELEGATED_API_KEY_ID_HEADER] = apiKeyId;
    return dispatch({ ...opts, origin: IN_PROCESS_ORIGIN, path: inProcessPath(provider, opts.path), headers }, handler);
  });
}

// undici's Request, from what a fetch caller passes: a URL, undici's own Request, or a Request
// of another fetch implementation (Node's built-in one), which undici would not recognise.
function toRequest(input: unknown, init: UndiciRequestInit | undefined): UndiciRequest {
  // A streamed body needs duplex "half"; harmless for the others.
  const options: UndiciRequestInit | undefined = init?.body === undefined || init.body === null ? init : { duplex: "half", ...init };
  if (typeof input === "string" || input instanceof URL || input instanceof UndiciRequest) return new UndiciRequest(input, options);
  const foreign = input as globalThis.Request;
  const copy = new UndiciRequest(foreign.url, {
    method: foreign.method,
    headers: [...foreign.headers],
    body: foreign.body,
    duplex: "half",
    signal: foreign.signal,
    redirect: foreign.redirect,
  } as UndiciRequestInit);
  return new UndiciRequest(copy, options);
}

/**
 * A fetch-compatible function for one provider (pass it as the SDKs' `fetch` option). A
 * request without a delegated API key id rejects with DelegatedApiKeyIdRequiredError before
 * anything is sent; responses stream as they arrive; aborting the request's signal closes
 * the stream and cancels the upstream request.
 */
export function createInProcessFetch(connections: InMemoryConnections, provider: ProviderName, options: InProcessClientOptions = {}): InProcessFetch {
  const dispatcher = createInProcessDispatcher(connections, provider, options);
  const bound = boundApiKeyId(options);
  const inProcessFetch = async (input: unknown, init?: unknown): Promise<unknown> => {
    const request = toRequest(input, init as UndiciRequestInit | undefined);
    // Checked here too so the caller's promise rejects with this error itself (fetch would
    // wrap the dispatcher's refusal in a generic "fetch failed").
    if (delegatedApiKeyIdValue(request.headers.get(DELEGATED_API_KEY_ID_HEADER)) === undefined && bound === undefined) {
      throw new DelegatedApiKeyIdRequiredError();
    }
    return undiciFetch(request, { dispatcher });
  };
  return inProcessFetch as InProcessFetch;
}
