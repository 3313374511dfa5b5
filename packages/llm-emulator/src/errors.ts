/** Which error body shape to use for a route. */
export type ErrorShape = 'openai' | 'anthropic' | 'plain';

const ANTHROPIC_TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

export function anthropicErrorType(status: number): string {
  return ANTHROPIC_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

/** OpenAI's `type` and `code` for a status, as the real API reports them. */
export function openaiErrorKind(status: number): { type: string; code: string | null } {
  if (status === 401) return { type: 'invalid_request_error', code: 'invalid_api_key' };
  if (status === 404) return { type: 'invalid_request_error', code: 'unknown_url' };
  if (status === 429) return { type: 'requests', code: 'rate_limit_exceeded' };
  if (status >= 500) return { type: 'server_error', code: null };
  return { type: 'invalid_request_error', code: null };
}

/** Message used for errors requested through `x-emulator-status`. */
export function emulatedErrorMessage(status: number): string {
  return `Emulated upstream error ${status} (requested via x-emulator-status)`;
}

/** Serialises an error body in the given provider's shape. */
export function errorBody(shape: ErrorShape, status: number, message: string): string {
  switch (shape) {
    case 'openai': {
      const kind = openaiErrorKind(status);
      return JSON.stringify({ error: { message, type: kind.type, param: null, code: kind.code } });
    }
    case 'anthropic':
      return JSON.stringify({ type: 'error', error: { type: anthropicErrorType(status), message } });
    case 'plain':
      return JSON.stringify({ error: { status, message } });
  }
}
