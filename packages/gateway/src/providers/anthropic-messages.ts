// Anthropic Messages (POST /anthropic/v1/messages): request reading, usage accounting
// (input_tokens, cache read, cache write, each counted once across message_start and the
// cumulative message_delta), tool_use blocks, thinking blocks, and `event: error` as the
// terminal event of a broken stream.

import { asArray, asNumber, asObject, asString, tryParseJson } from "../json.js";
import { compactJson, rawMembersOfElements } from "../json-raw-values.js";
import type { JsonObject } from "../json.js";
import type { SseEvent } from "../sse-parser.js";
import { contentText, lastTurn } from "./content-text.js";
import { anthropicErrorBody } from "./error-envelope.js";
import type { Observation, ParsedRequest, ProviderApi, StreamObserver, Thought, TokenUsage, ToolCall } from "./provider-api.js";

const TEXT_PARTS: ReadonlySet<string> = new Set(["text"]);

/** The usage counters Anthropic reports, each as last seen. */
type UsageFields = Partial<Record<
  | "input"
  | "output"
  | "cacheRead"
  | "cacheWrite"
  | "web_search_requests"
  | "cache_ephemeral_1h_input"
  | "cache_ephemeral_5m_input",
  number
>>;

/**
 * Overlays the counters present in `usage` onto `into`. message_delta repeats cumulative
 * totals, so a later value REPLACES an earlier one; nothing is ever added. Totals only grow: a
 * smaller later value is ignored, because Anthropic-compatible providers send 0 in message_delta
 * for the input and cache counters they reported in message_start (the reference takes those
 * from message_start only; Anthropic itself raises them there for server tools).
 */
export function mergeAnthropicUsage(into: UsageFields, usage: unknown): void {
  const u = asObject(usage);
  if (u === undefined) return;
  const set = (key: keyof UsageFields, value: unknown): void => {
    const n = asNumber(value);
    if (n !== undefined) into[key] = Math.max(n, into[key] ?? n);
  };
  set("input", u.input_tokens);
  set("output", u.output_tokens);
  set("cacheRead", u.cache_read_input_tokens);
  set("cacheWrite", u.cache_creation_input_tokens);
  set("web_search_requests", asObject(u.server_tool_use)?.web_search_requests);
  const creation = asObject(u.cache_creation);
  set("cache_ephemeral_1h_input", creation?.ephemeral_1h_input_tokens);
  set("cache_ephemeral_5m_input", creation?.ephemeral_5m_input_tokens);
}

/** Token usage from merged counters; undefined when none were seen. */
export function anthropicTokenUsage(fields: UsageFields): TokenUsage | undefined {
  if (Object.keys(fields).length === 0) return undefined;
  const extras: Record<string, number> = {};
  if (fields.cacheWrite !== undefined) extras.cache_creation_input = fields.cacheWrite;
  if (fields.cacheRead !== undefined) extras.cache_read_input = fields.cacheRead;
  for (const key of ["web_search_requests", "cache_ephemeral_1h_input", "cache_ephemeral_5m_input"] as const) {
    const value = fields[key];
    if (value !== undefined) extras[key] = value;
  }
  return {
    input: fields.input ?? 0,
    output: fields.output ?? 0,
    cacheRead: fields.cacheRead ?? 0,
    cacheWrite: fields.cacheWrite ?? 0,
    extras,
  };
}

function parseRequest(body: JsonObject): ParsedRequest {
  const last = lastTurn(asArray(body.messages));
  let prompt: string | undefined;
  let correlatingToolCallId: string | undefined;
  if (asString(last?.role) === "user") {
    prompt = contentText(last?.content, TEXT_PARTS, "last");
    for (const block of asArray(last?.content) ?? []) {
      const obj = asObject(block);
      if (asString(obj?.type) === "tool_result") correlatingToolCallId = asString(obj?.tool_use_id) ?? correlatingToolCallId;
    }
  }
  return {
    model: asString(body.model) ?? "",
    stream: body.stream === true,
    prompt,
    correlatingToolCallId,
    rewrittenBody: undefined,
    clientEvent: undefined,
  };
}

function observeResponse(body: unknown, text: string): Observation {
  const obj = asObject(body);
  const toolCalls: ToolCall[] = [];
  const thoughts: Thought[] = [];
  // A tool's input as the model wrote it (re-serialising the parsed value could change it).
  let rawInputs: (string | undefined)[] | undefined;
  const content = asArray(obj?.content) ?? [];
  for (let index = 0; index < content.length; index++) {
    const block = asObject(content[index]);
    const type = asString(block?.type);
    if (type === "tool_use") {
      rawInputs ??= rawMembersOfElements(text, "content", "input") ?? [];
      toolCalls.push({
        id: asString(block?.id) ?? "",
        name: asString(block?.name) ?? "",
        input: rawInputs[index] ?? JSON.stringify(block?.input ?? {}),
        itemId: "",
      });
    } else if (type === "thinking") {
      const text = asString(block?.thinking);
      if (text !== undefined && text !== "") thoughts.push({ content: text, source: "thinking" });
    }
  }
  const fields: UsageFields = {};
  mergeAnthropicUsage(fields, obj?.usage);
  return {
    responseId: asString(obj?.id) ?? "",
    usage: anthropicTokenUsage(fields),
    toolCalls,
    thoughts,
    complete: true,
    upstreamError: undefined,
  };
}

interface OpenBlock {
  readonly type: string;
  readonly id: string;
  readonly name: string;
  readonly initialInput: unknown;
  text: string;
}

class MessagesStreamObserver implements StreamObserver {
  private responseId = "";
  private readonly usage: UsageFields = {};
  private readonly blocks = new Map<number, OpenBlock>();
  private readonly toolCalls: ToolCall[] = [];
  private readonly thoughts: Thought[] = [];
  private complete = false;
  private upstreamError: string | undefined;

  onEvent(event: SseEvent): void {
    if (event.data === undefined) return;
    // Text deltas are most events and hold nothing recorded (the block's kind comes from its start).
    if (event.event === "ping" || (event.event === "content_block_delta" && event.data.includes('"type":"text_delta"'))) return;
    const data = asObject(tryParseJson(event.data));
    if (data === undefined) return;
    const type = asString(data.type) ?? event.event ?? "";
    switch (type) {
      case "message_start": {
        const message = asObject(data.message);
        if (this.responseId === "") this.responseId = asString(message?.id) ?? "";
        mergeAnthropicUsage(this.usage, message?.usage);
        return;
      }
      case "message_delta":
        mergeAnthropicUsage(this.usage, data.usage);
        return;
      case "content_block_start": {
        const block = asObject(data.content_block);
        this.blocks.set(asNumber(data.index) ?? 0, {
          type: asString(block?.type) ?? "",
          id: asString(block?.id) ?? "",
          name: asString(block?.name) ?? "",
          initialInput: block?.input,
          text: asString(block?.thinking) ?? "",
        });
        return;
      }
      case "content_block_delta": {
        const block = this.blocks.get(asNumber(data.index) ?? 0);
        const delta = asObject(data.delta);
        if (block === undefined || delta === undefined) return;
        const deltaType = asString(delta.type);
        if (deltaType === "input_json_delta") block.text += asString(delta.partial_json) ?? "";
        else if (deltaType === "thinking_delta") block.text += asString(delta.thinking) ?? "";
        return;
      }
      case "content_block_stop": {
        const index = asNumber(data.index) ?? 0;
        const block = this.blocks.get(index);
        this.blocks.delete(index);
        if (block === undefined) return;
        if (block.type === "tool_use") {
          // Spaces removed, as a blocking answer's input is recorded: the model's values, one form.
          const input = block.text !== "" ? compactJson(block.text) : JSON.stringify(block.initialInput ?? {});
          this.toolCalls.push({ id: block.id, name: block.name, input, itemId: "" });
        } else if (block.type === "thinking" && block.text !== "") {
          this.thoughts.push({ content: block.text, source: "thinking" });
        }
        return;
      }
      case "message_stop":
        this.complete = true;
        return;
      case "error":
        this.complete = true;
        this.upstreamError = JSON.stringify(data.error ?? null);
        return;
      default:
        return;
    }
  }

  result(): Observation {
    return {
      responseId: this.responseId,
      usage: anthropicTokenUsage(this.usage),
      toolCalls: [...this.toolCalls],
      thoughts: [...this.thoughts],
      complete: this.complete,
      upstreamError: this.upstreamError,
    };
  }

  errorEvent(message: string): string {
    return `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "api_error", message } })}\n\n`;
  }
}

export const anthropicMessagesApi: ProviderApi = Object.freeze({
  api: "anthropic-messages",
  provider: "anthropic",
  parseRequest,
  createStreamObserver: (): StreamObserver => new MessagesStreamObserver(),
  observeResponse,
  errorBody: anthropicErrorBody,
});
