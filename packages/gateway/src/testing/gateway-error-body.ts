// The exact body a test expects for an error the gateway reports itself, spelled out here rather
// than taken from the gateway's code: `{message, detail?}` and, on a provider's routes, the same
// text in that provider's envelope.

/** Where the request went: a provider's routes, or elsewhere (no envelope). */
export type ErrorRoute = "openai" | "anthropic" | "none";

const ANTHROPIC_TYPES: Readonly<Record<number, string>> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  415: "invalid_request_error",
  429: "rate_limit_error",
  500: "api_error",
  502: "api_error",
  503: "api_error",
  504: "timeout_error",
};

export function gatewayErrorBody(route: ErrorRoute, status: number, message: string, detail?: string): Record<string, unknown> {
  const own: Record<string, unknown> = detail === undefined ? { message } : { message, detail };
  const text = detail === undefined ? message : message.endsWith(".") ? `${message} ${detail}` : `${message}: ${detail}`;
  if (route === "openai") return { ...own, error: { message: text, type: status >= 500 ? "server_error" : "invalid_request_error", param: null, code: null } };
  if (route === "anthropic") return { ...own, type: "error", error: { type: ANTHROPIC_TYPES[status], message: text } };
  return own;
}
