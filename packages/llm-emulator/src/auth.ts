import type { IncomingHttpHeaders } from 'node:http';
import type { Provider } from './routes.js';

function hasBearer(value: string | undefined): boolean {
  if (value === undefined || value.length <= 7) return false;
  return value.slice(0, 7).toLowerCase() === 'bearer ' && value.slice(7).trim() !== '';
}

/** Only presence is checked (any non-empty key is accepted), like a permissive upstream. */
export function isAuthorized(provider: Provider, headers: IncomingHttpHeaders): boolean {
  if (hasBearer(headers.authorization)) return true;
  if (provider === 'anthropic') {
    const key = headers['x-api-key'];
    return typeof key === 'string' && key.trim() !== '';
  }
  return false;
}

export function missingAuthMessage(provider: Provider): string {
  return provider === 'openai'
    ? 'Missing API key: send it in an Authorization header as "Bearer <key>".'
    : 'x-api-key header is required';
}
