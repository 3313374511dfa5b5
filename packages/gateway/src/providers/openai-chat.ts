// OpenAI Chat Completions (POST /openai/v1/chat/completions): request reading, usage
// accounting (input = prompt_tokens − cached − cache-write tokens), tool calls (legacy function
// calls included), and the stream's error chunk.

import { asArray, asNumber, asObject, asString, hasNonNullKey, tryParseJson } from "../json.js";
import type { JsonObject } from "../json.js";
import type { SseEvent } from "../sse-parser.js";
import { contentText, lastTurn } from "./content-text.js";
import { openaiErrorBody } from "./error-envelope.js";
import { hideForcedUsage, withForcedUsage } from "./forced-stream-usage.js";
import type { Observation, ParsedRequest, ProviderApi, StreamObserver, TokenUsage, ToolCall } from "./provider-api.js";
import { uncachedInput } from "./provider-api.js";

const TEXT_PARTS: ReadonlySet<string> = new Set(["text"]);

/** Token usage of a chat `usage` object, per the reference accounting table. */
export function chatTokenUsage(usage: unknown): TokenUsage | undefined {
  const u = asObject(usage);
  if (u === undefined) return undefined;
  const prompt = asNumber(u.prompt_tokens) ?? 0;
  const completion = asNumber(u.completion_tokens) ?? 0;
  const promptDetails = asObject(u.prompt_tokens_details);
  const completionDetails = asObject(u.completion_tokens_details);
  const cached = asNumber(promptDetails?.cached_tokens) ?? 0;
  const cacheWrite = asNumber(promptDetails?.cache_write_tokens) ?? 0;
  const extras: Record<string, number> = {};
  const extra = (key: string, value: unknown): void => {
    const n = asNumber(value);
    if (n !== undefined) extras[key] = n;
  };
  extra("prompt_audio", promptDetails?.audio_tokens);
  extra("prompt_cached", promptDetails?.cached_tokens);
  extra("prompt_cache_write", promptDetails?.cache_write_tokens);
  extra("completion_accepted_prediction", completionDetails?.accepted_prediction_tokens);
  extra("completion_rejected_prediction", completionDetails?.rejected_prediction_tokens);
  extra("completion_audio", completionDetails?.audio_tokens);
  extra("completion_reasoning", completionDetails?.reasoning_tokens);
  return { input: uncachedInput(prompt, cached, cacheWrite), output: completion, cacheRead: cached, cacheWrite, extras };
}

function parseRequest(body: JsonObject, text: string): ParsedRequest {
  const messages = asArray(body.messages);
  const last = lastTurn(messages);
  const role = asString(last?.role);
  const stream = body.stream === true;
  // Usage only appears in a chat stream when asked for: force it so every stream is accounted.
  const forceUsage = stream && asObject(body.stream_options)?.include_usage !== true;
  return {
    model: asString(body.model) ?? "",
    stream,
    prompt: role === "user" ? contentText(last?.content, TEXT_PARTS, "last") : undefined,
    correlatingToolCallId: role === "tool" ? asString(last?.tool_call_id) : undefined,
    rewrittenBody: forceUsage ? withForcedUsage(body, text) : undefined,
    clientEvent: forceUsage ? hideForcedUsage : undefined,
  };
}

function toolCallsOfMessage(message: JsonObject | undefined): ToolCall[] {
  const calls: ToolCall[] = [];
  for (const raw of asArray(message?.tool_calls) ?? []) {
    const call = asObject(raw);
    const fn = asObject(call?.function);
    const custom = asObject(call?.custom);
    const name = asString(fn?.name) ?? asString(custom?.name);
    if (name === undefined) continue;
    calls.push({
      id: asString(call?.id) ?? "",
      name,
      input: asString(fn?.arguments) ?? asString(custom?.input) ?? "",
      itemId: "",
    });
  }
  const legacy = legacyFunctionCall(message);
  if (legacy !== undefined) calls.push(legacy);
  return calls;
}

/**
 * The deprecated `functions` request field gets the call back as the message's `function_call`
 * {name, arguments}. It has no id, so none is recorded: the provider gives none, and the
 * `function` turn that answers it names none to thread by (an invented one would match nothing).
 */
function legacyFunctionCall(message: JsonObject | undefined): ToolCall | undefined {
  const call = asObject(message?.function_call);
  const name = asString(call?.name);
  if (name === undefined) return undefined;
  return { id: "", name, input: asString(call?.arguments) ?? "", itemId: "" };
}

function observeResponse(body: unknown): Observation {
  const obj = asObject(body);
  const toolCalls: ToolCall[] = [];
  for (const choice of asArray(obj?.choices) ?? []) {
    toolCalls.push(...toolCallsOfMessage(asObject(asObject(choice)?.message)));
  }
  return {
    responseId: asString(obj?.id) ?? "",
    usage: chatTokenUsage(obj?.usage),
    toolCalls,
    thoughts: [],
    complete: true,
    upstreamError: undefined,
  };
}

interface PartialCall {
  id: string;
  name: string;
  args: string;
}

class ChatStreamObserver implements StreamObserver {
  private responseId = "";
  private usage: TokenUsage | undefined;
  private readonly calls = new Map<string, PartialCall>();
  private complete = false;
  private upstreamError: string | undefined;

  onEvent(event: SseEvent): void {
    const data = event.data;
    if (data === undefined) return;
    if (data.trim() === "[DONE]") {
      this.complete = true;
      return;
    }
    // Most chunks are content deltas: once the id is known, only usage, tool calls and errors matter.
    if (
      this.responseId !== "" &&
      !hasNonNullKey(data, "usage") &&
      !hasNonNullKey(data, "tool_calls") &&
      !hasNonNullKey(data, "function_call") &&
      !hasNonNullKey(data, "error")
    ) {
      return;
    }
    const chunk = asObject(tryParseJson(data));
    if (chunk === undefined) return;
    if (chunk.error !== undefined && chunk.error !== null) {
      this.upstreamError = JSON.stringify(chunk.error);
      this.complete = true;
      return;
    }
    if (this.responseId === "") this.responseId = asString(chunk.id) ?? "";
    const usage = chatTokenUsage(chunk.usage);
    if (usage !== undefined) {
      this.usage = usage;
      // The usage chunk (no choices; the gateway always asks for it) comes after every choice
      // has finished: the answer is whole, with or without the [DONE] that some
      // OpenAI-compatible servers leave out. (A usage in each chunk, with choices, is not it.)
      if (asArray(chunk.choices)?.length === 0) this.complete = true;
    }
    for (const rawChoice of asArray(chunk.choices) ?? []) {
      const choice = asObject(rawChoice);
      const choiceIndex = asNumber(choice?.index) ?? 0;
      const delta = asObject(choice?.delta);
      for (const rawCall of asArray(delta?.tool_calls) ?? []) {
        const call = asObject(rawCall);
        const partial = this.partialCall(`${choiceIndex}:${asNumber(call?.index) ?? 0}`);
        // A custom (freeform) tool's call streams as `custom` {name, input}, as its blocking form.
        const fn = asObject(call?.function) ?? asObject(call?.custom);
        const id = asString(call?.id);
        if (id !== undefined && id !== "") partial.id = id;
        const name = asString(fn?.name);
        if (name !== undefined && name !== "") partial.name = name;
        partial.args += asString(fn?.arguments) ?? asString(fn?.input) ?? "";
      }
      // A legacy function call (one per choice, no id) streams as `function_call` fragments:
      // the first names the function, every one adds to the arguments.
      const legacy = asObject(delta?.function_call);
      if (legacy !== undefined) {
        const partial = this.partialCall(`${choiceIndex}:function_call`);
        if (partial.name === "") partial.name = asString(legacy.name) ?? "";
        partial.args += asString(legacy.arguments) ?? "";
      }
    }
  }

  /** The call being assembled under `key`, started empty on its first fragment. */
  private partialCall(key: string): PartialCall {
    let partial = this.calls.get(key);
    if (partial === undefined) {
      partial = { id: "", name: "", args: "" };
      this.calls.set(key, partial);
    }
    return partial;
  }

  result(): Observation {
    const toolCalls: ToolCall[] = [];
    for (const call of this.calls.values()) {
      if (call.name !== "") toolCalls.push({ id: call.id, name: call.name, input: call.args, itemId: "" });
    }
    return {
      responseId: this.responseId,
      usage: this.usage,
      toolCalls,
      thoughts: [],
      complete: this.complete,
      upstreamError: this.upstreamError,
    };
  }

  errorEvent(message: string): string {
    // A final error chunk and no [DONE]: clients must see that the stream broke.
    return `data: ${JSON.stringify({ error: { message, type: "server_error", param: null, code: null } })}\n\n`;
  }
}

export const openaiChatApi: ProviderApi = Object.freeze({
  api: "openai-chat",
  provider: "openai",
  parseRequest,
  createStreamObserver: (): StreamObserver => new ChatStreamObserver(),
  observeResponse,
  errorBody: openaiErrorBody,
});
