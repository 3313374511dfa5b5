// What the gateway needs to know about one LLM API to proxy and record it: how to read the
// request, how to watch a streamed or blocking response go by, and how to end a broken stream
// in the API's own error format.

import type { BridgedApi, ProviderName } from "../routes.js";
import type { SseEvent } from "../sse-parser.js";
import type { JsonObject } from "../json.js";

/** Token usage of one upstream response, already in the reference's accounting (input excludes cached). */
export interface TokenUsage {
  readonly input: number;
  readonly output: number;
  readonly cacheRead: number;
  readonly cacheWrite: number;
  /** Provider-specific extra counters recorded as token-usage metadata. */
  readonly extras: Readonly<Record<string, number>>;
}

/**
 * OpenAI's uncached input: its input count includes the cached and the cache-written tokens.
 * Details adding up to more than the total (an OpenAI-compatible server counting otherwise) take
 * off only the cached tokens, as OpenAI's accounting did before it reported cache writes.
 */
export function uncachedInput(total: number, cached: number, cacheWrite: number): number {
  return cached + cacheWrite <= total ? total - cached - cacheWrite : Math.max(0, total - cached);
}

/** One tool call the model made. */
export interface ToolCall {
  /** The provider's call id ("call_…", "toolu_…"); "" when it gives none (a chat legacy function_call). */
  readonly id: string;
  readonly name: string;
  /** Arguments as JSON text. */
  readonly input: string;
  /** Responses API output item id ("fc_…"); "" elsewhere. */
  readonly itemId: string;
}

/** A thinking block or reasoning summary. */
export interface Thought {
  readonly content: string;
  /** "thinking" (Anthropic) or "reasoning_summary" (Responses). */
  readonly source: string;
}

/** What the gateway learned from one upstream response. */
export interface Observation {
  /** The provider's response id, "" when none was seen. */
  readonly responseId: string;
  readonly usage: TokenUsage | undefined;
  readonly toolCalls: readonly ToolCall[];
  readonly thoughts: readonly Thought[];
  /** The stream reached the API's terminal event ([DONE], message_stop, response.completed, or an error event). */
  readonly complete: boolean;
  /** An error the upstream itself reported inside a 2xx stream (its JSON), if any. */
  readonly upstreamError: string | undefined;
}

/** What the gateway reads from a bridged request body. */
export interface ParsedRequest {
  readonly model: string;
  readonly stream: boolean;
  /** The last user prompt's text, when the last input message is a user prompt. */
  readonly prompt: string | undefined;
  /** The tool-call id when the last input message is a tool result. */
  readonly correlatingToolCallId: string | undefined;
  /**
   * A modified body to send instead of the original bytes (e.g. forcing stream usage): the text
   * parseRequest wrote, or its UTF-8 bytes when the body was parsed on the parse thread.
   */
  readonly rewrittenBody: string | Buffer | undefined;
  /**
   * What the client gets of each streamed event ("" leaves it out) when the gateway changed the
   * request in a way the client must not see; undefined forwards every event untouched.
   */
  readonly clientEvent: ((event: SseEvent) => string) | undefined;
}

/** Watches one streamed response event by event. */
export interface StreamObserver {
  onEvent(event: SseEvent): void;
  result(): Observation;
  /** The terminal error event (raw SSE text) to send when the stream dies mid-way. */
  errorEvent(message: string): string;
}

/** One bridged LLM API. */
export interface ProviderApi {
  readonly api: BridgedApi;
  readonly provider: ProviderName;
  /** `text` is the body's JSON text, for rewrites that keep the client's exact bytes. */
  parseRequest(body: JsonObject, text: string): ParsedRequest;
  createStreamObserver(): StreamObserver;
  /** `body` is the parsed response (undefined if it was not JSON), `text` its JSON text. */
  observeResponse(body: unknown, text: string): Observation;
  /** A provider-shaped JSON error body for failures the gateway reports itself (502, 504). */
  errorBody(status: number, message: string): string;
}

/** An empty observation to build on. */
export function emptyObservation(): Observation {
  return { responseId: "", usage: undefined, toolCalls: [], thoughts: [], complete: false, upstreamError: undefined };
}
