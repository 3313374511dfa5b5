import { countTokens, createMessage } from './anthropic-messages.js';
import type { Controls } from './controls.js';
import type { ErrorShape } from './errors.js';
import type { JsonObject } from './json.js';
import { getAnthropicModel, getOpenaiModel, listAnthropicModels, listOpenaiModels } from './models.js';
import { chatCompletion } from './openai-chat.js';
import { createResponse } from './openai-responses.js';
import type { Reply } from './reply.js';

export type Provider = 'openai' | 'anthropic';

export interface RouteContext {
  /** The JSON request body (only for routes with `body: true`). */
  readonly body: JsonObject;
  /** `body.model` (only for routes with `model: true`). */
  readonly model: string;
  /** Path parameter, e.g. the model id of GET /models/{id}. */
  readonly param: string;
  readonly controls: Controls;
}

export interface Route {
  readonly provider: Provider;
  /** Request must carry a JSON object body. */
  readonly body: boolean;
  /** Request body must carry a string `model`. */
  readonly model: boolean;
  readonly handle: (ctx: RouteContext) => Reply;
}

export const OPENAI_PREFIX = '/openai/v1';
export const ANTHROPIC_PREFIX = '/anthropic';

const route = (provider: Provider, body: boolean, model: boolean, handle: Route['handle']): Route =>
  Object.freeze({ provider, body, model, handle });

const STATIC_ROUTES: ReadonlyMap<string, Route> = new Map([
  [`POST ${OPENAI_PREFIX}/chat/completions`, route('openai', true, true, (c) => chatCompletion(c.body, c.model, c.controls))],
  [`POST ${OPENAI_PREFIX}/responses`, route('openai', true, true, (c) => createResponse(c.body, c.model, c.controls))],
  [`GET ${OPENAI_PREFIX}/models`, route('openai', false, false, listOpenaiModels)],
  [`POST ${ANTHROPIC_PREFIX}/v1/messages`, route('anthropic', true, true, (c) => createMessage(c.body, c.model, c.controls))],
  [`POST ${ANTHROPIC_PREFIX}/v1/messages/count_tokens`, route('anthropic', true, true, (c) => countTokens(c.controls))],
  [`GET ${ANTHROPIC_PREFIX}/v1/models`, route('anthropic', false, false, listAnthropicModels)],
]);

const OPENAI_MODEL = route('openai', false, false, (c) => getOpenaiModel(c.param));
const ANTHROPIC_MODEL = route('anthropic', false, false, (c) => getAnthropicModel(c.param));
const OPENAI_MODEL_PREFIX = `${OPENAI_PREFIX}/models/`;
const ANTHROPIC_MODEL_PREFIX = `${ANTHROPIC_PREFIX}/v1/models/`;

export interface RouteMatch {
  readonly route: Route;
  readonly param: string;
}

export function matchRoute(method: string, pathname: string): RouteMatch | undefined {
  const exact = STATIC_ROUTES.get(`${method} ${pathname}`);
  if (exact !== undefined) return { route: exact, param: '' };
  if (method !== 'GET') return undefined;
  const param = (prefix: string): string | undefined => {
    if (!pathname.startsWith(prefix)) return undefined;
    const raw = pathname.slice(prefix.length);
    if (raw === '' || raw.includes('/')) return undefined;
    try {
      return decodeURIComponent(raw);
    } catch {
      return undefined;
    }
  };
  const openaiId = param(OPENAI_MODEL_PREFIX);
  if (openaiId !== undefined) return { route: OPENAI_MODEL, param: openaiId };
  const anthropicId = param(ANTHROPIC_MODEL_PREFIX);
  if (anthropicId !== undefined) return { route: ANTHROPIC_MODEL, param: anthropicId };
  return undefined;
}

/** Error body shape for a path, also for unknown routes under a provider prefix. */
export function errorShapeFor(pathname: string): ErrorShape {
  if (pathname.startsWith('/openai/') || pathname === '/openai') return 'openai';
  if (pathname.startsWith('/anthropic/') || pathname === '/anthropic') return 'anthropic';
  return 'plain';
}
