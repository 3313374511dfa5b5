// Each provider's own error shape, for errors the gateway reports itself. The official SDKs, and
// the agents built on them, show only what is in it: the OpenAI SDK reads `error.message` (a
// body without `error` is "403 status code (no body)"), Claude Code reads `error.type`.

import type { ProviderName } from "../routes.js";

/** OpenAI: `{"error": {"message", "type", "param", "code"}}`. */
export function openaiErrorEnvelope(status: number, message: string): { error: { message: string; type: string; param: null; code: null } } {
  const type = status >= 500 ? "server_error" : "invalid_request_error";
  return { error: { message, type, param: null, code: null } };
}

/** Anthropic: `{"type": "error", "error": {"type", "message"}}`, typed by status as the API does. */
export function anthropicErrorEnvelope(status: number, message: string): { type: "error"; error: { type: string; message: string } } {
  return { type: "error", error: { type: anthropicErrorType(status), message } };
}

function anthropicErrorType(status: number): string {
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 504:
      return "timeout_error";
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

/** The provider's envelope for a gateway error on its routes. */
export function providerErrorEnvelope(provider: ProviderName, status: number, message: string): object {
  return provider === "openai" ? openaiErrorEnvelope(status, message) : anthropicErrorEnvelope(status, message);
}

/** The provider's error body (502, 504, ... the gateway answers itself on its routes). */
export function providerErrorBody(provider: ProviderName, status: number, message: string): string {
  return JSON.stringify(providerErrorEnvelope(provider, status, message));
}

/** OpenAI's error body. */
export function openaiErrorBody(status: number, message: string): string {
  return providerErrorBody("openai", status, message);
}

/** Anthropic's error body. */
export function anthropicErrorBody(status: number, message: string): string {
  return providerErrorBody("anthropic", status, message);
}

/**
 * The provider's body for "overloaded, try again" (503): OpenAI's `service_unavailable` server
 * error, Anthropic's `overloaded_error`, which the SDKs and Claude Code retry (the reference's
 * circuit-breaker bodies).
 */
export function providerOverloadedBody(provider: ProviderName, message: string): string {
  return JSON.stringify(
    provider === "openai" ? { error: { message, type: "server_error", param: null, code: "service_unavailable" } } : { type: "error", error: { type: "overloaded_error", message } },
  );
}
