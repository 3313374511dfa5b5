// OpenAI Responses (POST /openai/v1/responses): request reading, usage accounting
// (input = input_tokens − cached − cache-write tokens), function calls with their item ids, reasoning
// summaries as thoughts, and `response.failed` as the terminal event of a broken stream.

import { UnsupportedRequestError } from "../errors.js";
import { asArray, asNumber, asObject, asString, tryParseJson } from "../json.js";
import { rawValueAt } from "../json-raw-values.js";
import type { JsonObject } from "../json.js";
import type { SseEvent } from "../sse-parser.js";
import { contentText, lastTurn } from "./content-text.js";
import { openaiErrorBody } from "./error-envelope.js";
import type { Observation, ParsedRequest, ProviderApi, StreamObserver, Thought, TokenUsage, ToolCall } from "./provider-api.js";
import { uncachedInput } from "./provider-api.js";

const TEXT_PARTS: ReadonlySet<string> = new Set(["input_text", "text"]);
const TOOL_OUTPUT_TYPES: ReadonlySet<string> = new Set([
  "function_call_output",
  "custom_tool_call_output",
  "local_shell_call_output",
  "shell_call_output",
  "apply_patch_call_output",
  "computer_call_output",
]);
/** Calls of the built-in tools the client runs itself: the item type, the tool's name and the field holding its input. */
const CLIENT_RUN_BUILTINS: ReadonlyMap<string, { readonly name: string; readonly input: readonly string[] }> = new Map([
  ["local_shell_call", { name: "local_shell", input: ["action"] }],
  ["shell_call", { name: "shell", input: ["action"] }],
  ["apply_patch_call", { name: "apply_patch", input: ["operation"] }],
  ["computer_call", { name: "computer", input: ["action", "actions"] }],
]);
// A key followed by ':' cannot be inside a JSON string (its quotes would be escaped).
const SEQUENCE_NUMBER = /"sequence_number"\s*:\s*(\d+)/;
const TERMINAL_EVENTS: ReadonlySet<string> = new Set(["response.completed", "response.incomplete", "response.failed"]);

/** Token usage of a Responses `usage` object. */
export function responsesTokenUsage(usage: unknown): TokenUsage | undefined {
  const u = asObject(usage);
  if (u === undefined) return undefined;
  const input = asNumber(u.input_tokens) ?? 0;
  const inputDetails = asObject(u.input_tokens_details);
  const cached = asNumber(inputDetails?.cached_tokens) ?? 0;
  const written = asNumber(inputDetails?.cache_write_tokens);
  const extras: Record<string, number> = {};
  const reasoning = asNumber(asObject(u.output_tokens_details)?.reasoning_tokens);
  extras.input_cached = cached;
  if (written !== undefined) extras.input_cache_write = written;
  if (reasoning !== undefined) extras.output_reasoning = reasoning;
  const cacheWrite = written ?? 0;
  return { input: uncachedInput(input, cached, cacheWrite), output: asNumber(u.output_tokens) ?? 0, cacheRead: cached, cacheWrite, extras };
}

function parseRequest(body: JsonObject): ParsedRequest {
  if (body.background === true && body.stream !== true) {
    throw new UnsupportedRequestError(
      "background requests are not supported",
      "The gateway records usage from the answer, and a background response is fetched later on a route it does not record; send it with \"stream\": true or without \"background\".",
    );
  }
  const input = body.input;
  let prompt: string | undefined;
  let correlatingToolCallId: string | undefined;
  const direct = asString(input);
  if (direct !== undefined) {
    prompt = direct === "" ? undefined : direct;
  } else {
    const last = lastTurn(asArray(input));
    const type = asString(last?.type);
    if (asString(last?.role) === "user" && (type === undefined || type === "message")) {
      prompt = contentText(last?.content, TEXT_PARTS, "joined");
    } else if (type !== undefined && TOOL_OUTPUT_TYPES.has(type)) {
      correlatingToolCallId = asString(last?.call_id);
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

/** Where an output item sits in the JSON text it was parsed from. */
interface RawItem {
  readonly text: string;
  readonly path: readonly (string | number)[];
}

/**
 * Collects the calls of client-run tools (functions, custom tools, and the built-in tools whose
 * calls the client executes: local_shell, shell, apply_patch, computer, recorded under those
 * names with their action or operation as input), reasoning summaries and the commentary
 * messages some models write instead of summaries, from output items. Tools the provider runs
 * itself (web search, hosted MCP) are not tool calls the client made, as with Anthropic's server
 * tools.
 */
function collectItem(item: JsonObject | undefined, calls: ToolCall[], thoughts: Thought[], raw: RawItem): void {
  const type = asString(item?.type);
  const builtin = type === undefined ? undefined : CLIENT_RUN_BUILTINS.get(type);
  if (builtin !== undefined) {
    const field = builtin.input.find((name) => item?.[name] !== undefined && item[name] !== null);
    calls.push({
      id: asString(item?.call_id) ?? "",
      name: builtin.name,
      // As the provider wrote it: re-serialised, an integer beyond 2^53 would be rounded.
      input: field === undefined ? "{}" : (rawValueAt(raw.text, [...raw.path, field]) ?? JSON.stringify(item?.[field])),
      itemId: asString(item?.id) ?? "",
    });
    return;
  }
  switch (type) {
    case "function_call":
    case "custom_tool_call": {
      const name = asString(item?.name);
      if (name === undefined) return;
      calls.push({
        id: asString(item?.call_id) ?? "",
        name,
        input: asString(item?.arguments) ?? asString(item?.input) ?? "",
        itemId: asString(item?.id) ?? "",
      });
      return;
    }
    case "reasoning":
      for (const part of asArray(item?.summary) ?? []) {
        const text = asString(asObject(part)?.text);
        if (text !== undefined && text !== "") thoughts.push({ content: text, source: "reasoning_summary" });
      }
      return;
    case "message":
      // The reference records these as thoughts too: Codex models often write no summary.
      if (asString(item?.role) !== "assistant" || asString(item?.phase) !== "commentary") return;
      for (const part of asArray(item?.content) ?? []) {
        const text = asString(asObject(part)?.text);
        if (text !== undefined && text !== "") thoughts.push({ content: text, source: "commentary" });
      }
      return;
    default:
      return;
  }
}

function observeResponse(body: unknown, text: string): Observation {
  const obj = asObject(body);
  const toolCalls: ToolCall[] = [];
  const thoughts: Thought[] = [];
  (asArray(obj?.output) ?? []).forEach((item, i) => collectItem(asObject(item), toolCalls, thoughts, { text, path: ["output", i] }));
  return {
    responseId: asString(obj?.id) ?? "",
    usage: responsesTokenUsage(obj?.usage),
    toolCalls,
    thoughts,
    complete: true,
    // A blocking answer can report a failure with 200, as a stream's response.failed does.
    upstreamError: asString(obj?.status) === "failed" ? JSON.stringify(obj?.error ?? null) : undefined,
  };
}

class ResponsesStreamObserver implements StreamObserver {
  private responseId = "";
  private response: JsonObject | undefined;
  private usage: TokenUsage | undefined;
  private readonly toolCalls: ToolCall[] = [];
  private readonly thoughts: Thought[] = [];
  private sawItems = false;
  private complete = false;
  private upstreamError: string | undefined;
  private lastSequence = -1;

  onEvent(event: SseEvent): void {
    const text = event.data;
    if (text === undefined) return;
    // Text deltas are most events; all they tell is their sequence number.
    if (event.event === "response.output_text.delta") {
      const seq = SEQUENCE_NUMBER.exec(text);
      if (seq !== null) {
        this.lastSequence = Number(seq[1]);
        return;
      }
    }
    const data = asObject(tryParseJson(text));
    if (data === undefined) return;
    const seq = asNumber(data.sequence_number);
    if (seq !== undefined) this.lastSequence = seq;
    const type = asString(data.type) ?? event.event ?? "";
    const response = asObject(data.response);
    if (response !== undefined) {
      this.response = response;
      if (this.responseId === "") this.responseId = asString(response.id) ?? "";
    }
    if (type === "response.output_item.done") {
      this.sawItems = true;
      collectItem(asObject(data.item), this.toolCalls, this.thoughts, { text, path: ["item"] });
      return;
    }
    if (TERMINAL_EVENTS.has(type)) {
      this.complete = true;
      this.usage = responsesTokenUsage(response?.usage) ?? this.usage;
      // Some upstreams only report output in the final response: use it when no item events came.
      if (!this.sawItems) {
        (asArray(response?.output) ?? []).forEach((item, i) => collectItem(asObject(item), this.toolCalls, this.thoughts, { text, path: ["response", "output", i] }));
      }
      if (type === "response.failed") this.upstreamError = JSON.stringify(response?.error ?? null);
      return;
    }
    if (type === "error") {
      this.complete = true;
      this.upstreamError = event.data;
    }
  }

  result(): Observation {
    return {
      responseId: this.responseId,
      usage: this.usage,
      toolCalls: [...this.toolCalls],
      thoughts: [...this.thoughts],
      complete: this.complete,
      upstreamError: this.upstreamError,
    };
  }

  errorEvent(message: string): string {
    const base: JsonObject = this.response ?? {
      id: this.responseId,
      object: "response",
      created_at: Math.floor(Date.now() / 1000),
      output: [],
    };
    const response = { ...base, status: "failed", error: { code: "server_error", message }, usage: base.usage ?? null };
    const data = { type: "response.failed", sequence_number: this.lastSequence + 1, response };
    return `event: response.failed\ndata: ${JSON.stringify(data)}\n\n`;
  }
}

export const openaiResponsesApi: ProviderApi = Object.freeze({
  api: "openai-responses",
  provider: "openai",
  parseRequest,
  createStreamObserver: (): StreamObserver => new ResponsesStreamObserver(),
  observeResponse,
  errorBody: openaiErrorBody,
});
