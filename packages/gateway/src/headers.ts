// Which headers cross the gateway in each direction (reference §7 "Outgoing headers", DESIGN §6).

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { GOVERNANCE_HEADER_PREFIX, SESSION_TOKEN_HEADER, carriesKey } from "./credentials.js";
import type { ProviderName } from "./routes.js";

/** RFC 9110 hop-by-hop headers: meaningful for one connection only. */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  // Not in RFC 9110, but old clients send it meaning Connection; no proxy forwards it.
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

// Re-computed by undici for the outgoing request; Accept-Encoding is dropped so the upstream
// answers uncompressed and the gateway can parse the stream it forwards.
const REQUEST_ONLY_DROPPED: ReadonlySet<string> = new Set(["host", "content-length", "accept-encoding", "expect"]);

/** Weir's own header namespace (x-weir-interception-id on answers): never sent to a provider. */
const WEIR_HEADER_PREFIX = "x-weir-";

/**
 * The reference's actor headers (SendActorHeaders): who made the request, for a provider or an
 * egress proxy that attributes usage. Only the gateway writes them (--send-actor-headers); a
 * client's are always dropped, or it could claim to be someone else.
 */
export const ACTOR_HEADER_PREFIX = "x-ai-bridge-actor-";
export const ACTOR_ID_HEADER = `${ACTOR_HEADER_PREFIX}id`;
export const ACTOR_USERNAME_HEADER = `${ACTOR_HEADER_PREFIX}metadata-username`;
const UNDERSCORED_RESERVED = /^(x[-_]ai[-_]bridge[-_]actor[-_]|x[-_]ai[-_]governance[-_]|x[-_]weir[-_]|weir[-_]session[-_]token$)/;

/** How the upstream credential is chosen. */
export type CredentialKind = "centralized" | "byok";

/** Inputs for building the headers sent upstream. */
export interface UpstreamHeaderOptions {
  readonly provider: ProviderName;
  readonly kind: CredentialKind;
  /** The configured provider key, injected in centralized mode. SECURITY: secret. */
  readonly providerKey: string | undefined;
  /** The Weir key the client presented: in BYOK no header holding it goes upstream. SECURITY: secret. */
  readonly weirKey?: string | undefined;
  /** The body goes upstream decoded (bridged routes): the client's Content-Encoding is dropped. */
  readonly bodyDecoded?: boolean;
  /** With --send-actor-headers: the authorized user, named in the actor headers. */
  readonly actor?: { readonly id: string; readonly username: string } | undefined;
}

const NO_TOKENS: ReadonlySet<string> = new Set();

function connectionTokens(headers: IncomingHttpHeaders | Record<string, unknown>): ReadonlySet<string> {
  const raw = headers.connection;
  // Most messages have no Connection header, or only "keep-alive" (hop-by-hop anyway).
  if (raw === undefined || raw === "keep-alive") return NO_TOKENS;
  const tokens = new Set<string>();
  const values = Array.isArray(raw) ? raw : typeof raw === "string" ? [raw] : [];
  for (const value of values) {
    for (const token of String(value).split(",")) {
      const name = token.trim().toLowerCase();
      if (name !== "") tokens.add(name);
    }
  }
  return tokens;
}

/**
 * The client's headers minus hop-by-hop headers (and any named in Connection), Host,
 * Content-Length, Accept-Encoding, every X-AI-Governance-*, X-Weir-* and X-AI-Bridge-Actor-*
 * header and Weir-Session-Token (and Content-Encoding when the gateway decoded the body); the
 * actor headers are then written by the gateway when `actor` is given.
 * Centralized: the client's Authorization and X-Api-Key are removed and the provider key is
 * injected (OpenAI `Authorization: Bearer`, Anthropic `x-api-key`). BYOK: the client's own
 * Authorization / X-Api-Key go upstream untouched, but to Anthropic only one of them: X-Api-Key
 * when it has one. In both modes no header holding the client's Weir key goes upstream.
 */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, options: UpstreamHeaderOptions): Record<string, string> {
  const named = connectionTokens(incoming);
  const out: Record<string, string> = {};
  // SECURITY: no header holding the client's Weir key is forwarded, in either mode: in BYOK a
  // client may give it as its SDK key as well as the governance token, and in centralized mode
  // Azure- or Google-style clients send it in `api-key` or `x-goog-api-key` besides Authorization.
  const weirKey = options.weirKey;
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP_HEADERS.has(lower) || REQUEST_ONLY_DROPPED.has(lower) || named.has(lower)) continue;
    // SECURITY: Weir credentials and internal headers never reach a provider.
    if (lower.startsWith(GOVERNANCE_HEADER_PREFIX) || lower === SESSION_TOKEN_HEADER || lower.startsWith(WEIR_HEADER_PREFIX)) continue;
    if (lower.startsWith(ACTOR_HEADER_PREFIX)) continue;
    // Spelled with underscores, a CGI, WSGI or Rack proxy between here and the provider reads the
    // same header: drop those too (only names with "_" pay for the check).
    if (lower.includes("_") && UNDERSCORED_RESERVED.test(lower)) continue;
    if (options.kind === "centralized" && (lower === "authorization" || lower === "x-api-key")) continue;
    if (weirKey !== undefined && carriesKey(value, weirKey)) continue;
    if (options.bodyDecoded === true && lower === "content-encoding") continue;
    out[lower] = Array.isArray(value) ? value.join(", ") : value;
  }
  // BYOK to Anthropic: the user's X-Api-Key is the credential (as the reference picks it), so
  // their Authorization does not go along: a provider given both may bill the one not recorded.
  if (options.kind === "byok" && options.provider === "anthropic" && out["x-api-key"] !== undefined && out["x-api-key"].trim() !== "") delete out.authorization;
  if (options.kind === "centralized" && options.providerKey !== undefined && options.providerKey !== "") {
    // SECURITY: the provider key is only ever written into the upstream request.
    if (options.provider === "openai") out.authorization = `Bearer ${options.providerKey}`;
    else out["x-api-key"] = options.providerKey;
  }
  if (options.actor !== undefined) {
    out[ACTOR_ID_HEADER] = options.actor.id;
    // Usernames are ASCII letters, digits and hyphens; encoded anyway, a header must stay one line.
    out[ACTOR_USERNAME_HEADER] = encodeURIComponent(options.actor.username);
  }
  return out;
}

/**
 * Provider response headers that would act on the gateway's own origin, never the provider's:
 * a client stores the cookies (Cloudflare's __cf_bm, say) for the gateway's host and shares them
 * between every user behind it; HSTS would pin the provider's policy on the gateway's host (a
 * plain-http gateway becomes unreachable in browsers); Alt-Svc advertises the provider's HTTP/3
 * endpoint as the gateway's; NEL and Report-To make browsers report the gateway's network errors
 * to the provider.
 */
const PROVIDER_ORIGIN_HEADERS: ReadonlySet<string> = new Set([
  "set-cookie",
  "set-cookie2",
  "strict-transport-security",
  "alt-svc",
  "nel",
  "report-to",
]);

/**
 * Name the provider account a key belongs to. With the central key they are the operator's
 * organization and project ids, not every user's business; in BYOK they are the client's own.
 */
const ACCOUNT_HEADERS: ReadonlySet<string> = new Set(["openai-organization", "openai-project", "anthropic-organization-id"]);

/**
 * The upstream's response headers to copy to the client: everything but hop-by-hop headers,
 * Content-Length (the gateway's own framing applies), the headers that would act on the
 * gateway's origin (PROVIDER_ORIGIN_HEADERS) and, in centralized mode, the headers naming the
 * operator's provider account (ACCOUNT_HEADERS).
 */
export function clientResponseHeaders(upstream: IncomingHttpHeaders, kind: CredentialKind): OutgoingHttpHeaders {
  const named = connectionTokens(upstream);
  const centralized = kind === "centralized";
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP_HEADERS.has(lower) || named.has(lower) || lower === "content-length") continue;
    if (PROVIDER_ORIGIN_HEADERS.has(lower)) continue;
    if (centralized && ACCOUNT_HEADERS.has(lower)) continue;
    out[lower] = value;
  }
  return out;
}
