// Delegated API key ids (DESIGN §5, reference §6 "In-process transport"): code running in the
// gateway's own process (an agent, a scheduled job) that already established which user it
// acts for calls the gateway with that user's API key *id* — it never has the secret — and the
// gateway authorizes with IsAuthorized{key_id}.
//
// How the key id travels, and why it cannot be spoofed from the network. The reference puts
// the id on a Go context.Context that only in-process callers can set. Node has no request
// context crossing an HTTP handler, so the id rides in a header — X-AI-Governance-Delegated-
// Api-Key-Id — and the header is honoured ONLY on connections the gateway made to itself in
// memory (in-memory-connections.ts): undici's connector hands the client one end of an
// in-memory duplex pair and emits the other end as a `connection` on an http.Server that never
// listens, remembering that server-side end in a WeakSet. Everything that came over a network
// arrives on a socket that can never be in that set: a TCP or TLS socket accepted by the gateway's
// listener or by the control plane (mounted), or — for HTTP/2 — a NON-delegating in-memory
// connection of the HTTP/2 relay (http2-bridge.ts). A network client can send the header, but
// it is removed and ignored before credential extraction, so the request needs a real
// credential like any other (no key → 400, a wrong one → 403). The header also matches the
// X-AI-Governance-* prefix that is never forwarded upstream (headers.ts).
//
// Alternatives considered: an AsyncLocalStorage value set by the caller does not survive the
// hop through the HTTP parser (the handler runs in the server's async context, not the
// caller's); a per-request random nonce in a header looked up in a shared map works but is
// only probabilistically unguessable, while socket identity is exact and needs no lookup state.

import type { IncomingMessage } from "node:http";

/** Carries the delegated API key id on in-process requests; ignored on any other connection. */
export const DELEGATED_API_KEY_ID_HEADER = "x-ai-governance-delegated-api-key-id";

/** Trimmed, or undefined when absent or blank. Repeated headers are joined (and so refused as an unknown id). */
export function delegatedApiKeyIdValue(value: string | readonly string[] | null | undefined): string | undefined {
  const joined = typeof value === "string" ? value : value?.join(", ");
  const trimmed = joined?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}

/** What the delegation header of one request amounts to. */
export interface Delegation {
  /** The delegated key id: set only for a non-blank header on an in-process connection. */
  readonly apiKeyId: string | undefined;
  /** The header came over a network connection and was dropped (worth a log line). */
  readonly ignored: boolean;
}

const NONE: Delegation = Object.freeze({ apiKeyId: undefined, ignored: false });
const IGNORED: Delegation = Object.freeze({ apiKeyId: undefined, ignored: true });

/**
 * Removes the delegation header from `req`; its key id counts when — and only when — the
 * request arrived on a delegating in-process connection (`isDelegatingSocket(req.socket)`).
 */
export function takeDelegation(req: IncomingMessage, isDelegatingSocket: ((socket: unknown) => boolean) | undefined): Delegation {
  const value = req.headers[DELEGATED_API_KEY_ID_HEADER];
  if (value === undefined) return NONE;
  delete req.headers[DELEGATED_API_KEY_ID_HEADER];
  // SECURITY: socket identity, not anything the request says, decides whether the id counts.
  if (isDelegatingSocket === undefined || !isDelegatingSocket(req.socket)) return IGNORED;
  const apiKeyId = delegatedApiKeyIdValue(value);
  return apiKeyId === undefined ? NONE : { apiKeyId, ignored: false };
}
