// Finding the user's Weir credential on an incoming request, and masking secrets for records
// and logs (DESIGN §6, reference §6 "ServeHTTP steps" 2-3).

import type { IncomingHttpHeaders } from "node:http";
import type { ProviderName } from "./routes.js";

/** BYOK: the user's Weir key travels here and their own provider key stays in Authorization / X-Api-Key. */
export const GOVERNANCE_TOKEN_HEADER = "x-ai-governance-token";
/** Correlation id stamped by an upstream proxy; logged as request_id, then removed. */
export const GOVERNANCE_REQUEST_ID_HEADER = "x-ai-governance-request-id";
/** Every header with this prefix is internal to Weir and never reaches a provider. */
export const GOVERNANCE_HEADER_PREFIX = "x-ai-governance-";
/** The admin API's session header. Not accepted as an LLM credential, and never forwarded. */
export const SESSION_TOKEN_HEADER = "weir-session-token";

/** Where the credential was found. */
export type CredentialSource = "governance_token" | "authorization" | "x_api_key";

/** The user's Weir credential. SECURITY: `token` is a secret; log `source` only. */
export interface ExtractedCredential {
  readonly token: string;
  readonly source: CredentialSource;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (Array.isArray(value)) return value[0];
  return value;
}

/** The token of an `Authorization: Bearer <t>` header: scheme case-insensitive, exactly two fields. */
export function bearerToken(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const fields = value.trim().split(/\s+/);
  if (fields.length !== 2) return undefined;
  const [scheme, token] = fields;
  if (scheme === undefined || token === undefined || scheme.toLowerCase() !== "bearer") return undefined;
  return token;
}

/** Trimmed, or undefined when absent or blank. */
function nonBlank(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}

/** BYOK mode: the governance token header is present and not blank. */
export function isByokRequest(headers: IncomingHttpHeaders): boolean {
  return nonBlank(headerValue(headers, GOVERNANCE_TOKEN_HEADER)) !== undefined;
}

/**
 * Extracts the user's Weir credential, in priority order: X-AI-Governance-Token,
 * Authorization: Bearer, X-Api-Key. Values are trimmed; blank values are skipped.
 * Weir-Session-Token is deliberately not a credential here.
 */
export function extractAuthToken(headers: IncomingHttpHeaders): ExtractedCredential | undefined {
  const governance = nonBlank(headerValue(headers, GOVERNANCE_TOKEN_HEADER));
  if (governance !== undefined) return { token: governance, source: "governance_token" };
  const bearer = nonBlank(bearerToken(headerValue(headers, "authorization")));
  if (bearer !== undefined) return { token: bearer, source: "authorization" };
  const apiKey = nonBlank(headerValue(headers, "x-api-key"));
  if (apiKey !== undefined) return { token: apiKey, source: "x_api_key" };
  return undefined;
}

/**
 * A masked hint of a secret for records and logs: the first and last four characters of
 * long secrets ("sk-a...xyz9"), two and two for medium ones, nothing for short ones.
 * SECURITY: never reveals more than 8 characters, and never more than half the secret.
 */
export function maskCredential(secret: string | undefined): string {
  if (secret === undefined || secret === "") return "";
  if (secret.length >= 16) return `${secret.slice(0, 4)}...${secret.slice(-4)}`;
  if (secret.length >= 8) return `${secret.slice(0, 2)}...${secret.slice(-2)}`;
  return "...";
}

/**
 * Whether a header's value holds `key` anywhere. Not only "is it the key": a header sent twice
 * arrives joined ("k, k"), and a key is long and random enough that containing it means leaking it.
 */
export function carriesKey(value: string | string[], key: string): boolean {
  return Array.isArray(value) ? value.some((v) => v.includes(key)) : value.includes(key);
}

/**
 * The provider credential a request carries of its own for upstream (OpenAI: a bearer; Anthropic:
 * X-Api-Key, else a bearer): not a header holding the Weir key itself, which is never forwarded
 * (headers.ts) and whose hint would show part of the Weir key's secret.
 */
export function ownProviderCredential(headers: IncomingHttpHeaders, provider: ProviderName, weirKey: string | undefined): string | undefined {
  const own = (value: string | undefined): string | undefined => (value === undefined || value === "" || (weirKey !== undefined && carriesKey(value, weirKey)) ? undefined : value);
  const auth = headers.authorization;
  const bearer = own(bearerToken(Array.isArray(auth) ? auth[0] : auth));
  if (provider === "openai") return bearer;
  const apiKey = headers["x-api-key"];
  return own((Array.isArray(apiKey) ? apiKey[0] : apiKey)?.trim()) ?? bearer;
}
