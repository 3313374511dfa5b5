// What the control plane stores is what the model produced, through a real replica and real
// PostgreSQL, for shapes agents send and get: many tool calls and thinking blocks in one turn
// (stored in the model's order), legacy chat function calls, and Claude Code's turns, whose last user message carries
// context ahead of what the user typed. A chat stream's usage is always asked for, and hidden
// from a client that did not ask for it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { chatCompletion } from "@weir/gateway/testing";
import { recorded, startStack, type Stack } from "./stack.js";
import { sse, startScriptedUpstream, type ScriptedUpstream } from "./scripted-upstream.js";

let upstream: ScriptedUpstream;
let stack: Stack;
before(async () => {
  upstream = await startScriptedUpstream();
  stack = await startStack({ replicas: 1, gatewayArgs: ["--anthropic-base-url", upstream.url, "--openai-base-url", `${upstream.url}/v1`] });
});
after(async () => {
  await stack?.stop();
  await upstream?.close();
});

const openai = () => new OpenAI({ baseURL: `${stack.replicas[0]!.url}/openai/v1`, apiKey: stack.user.apiKey, maxRetries: 0 });
const anthropic = () => new Anthropic({ baseURL: `${stack.replicas[0]!.url}/anthropic`, apiKey: stack.user.apiKey, maxRetries: 0 });

/** The interception with this id once it has ended and holds `ready`'s rows. */
async function interception(id: string, ready: (i: any) => boolean): Promise<any> {
  const list = await recorded(stack, (l) => {
    const i = l.find((x) => x.id === id);
    return i !== undefined && i.ended_at !== null && ready(i);
  });
  return list.find((x) => x.id === id);
}

const ANTHROPIC_USAGE = { input_tokens: 10, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

describe("recording fidelity through a replica", () => {
  it("stores an Anthropic turn's interleaved thinking blocks and tool calls in the model's order", async () => {
    const pairs = 6;
    const events = [sse({ type: "message_start", message: { id: "msg_order", type: "message", role: "assistant", model: "claude-sonnet-4-5", content: [], stop_reason: null, usage: ANTHROPIC_USAGE } }, "message_start")];
    for (let i = 0; i < pairs; i++) {
      const t = 2 * i;
      events.push(
        sse({ type: "content_block_start", index: t, content_block: { type: "thinking", thinking: "", signature: "" } }, "content_block_start"),
        sse({ type: "content_block_delta", index: t, delta: { type: "thinking_delta", thinking: `thought #${i}` } }, "content_block_delta"),
        sse({ type: "content_block_delta", index: t, delta: { type: "signature_delta", signature: "c2ln" } }, "content_block_delta"),
        sse({ type: "content_block_stop", index: t }, "content_block_stop"),
        sse({ type: "content_block_start", index: t + 1, content_block: { type: "tool_use", id: `toolu_${i}`, name: `tool_${i}`, input: {} } }, "content_block_start"),
        sse({ type: "content_block_delta", index: t + 1, delta: { type: "input_json_delta", partial_json: `{"n": ` } }, "content_block_delta"),
        sse({ type: "content_block_delta", index: t + 1, delta: { type: "input_json_delta", partial_json: `${i}}` } }, "content_block_delta"),
        sse({ type: "content_block_stop", index: t + 1 }, "content_block_stop"),
      );
    }
    events.push(
      sse({ type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 99 } }, "message_delta"),
      sse({ type: "message_stop" }, "message_stop"),
    );
    upstream.answer({ events });

    const { response } = await anthropic()
      .messages.create({ model: "claude-sonnet-4-5", max_tokens: 100, stream: true, messages: [{ role: "user", content: "plan" }] })
      .withResponse();
    const id = response.headers.get("x-weir-interception-id")!;
    const i = await interception(id, (x) => x.tool_usages.length === pairs && x.model_thoughts.length === pairs);
    const order = Array.from({ length: pairs }, (_, n) => n);
    assert.deepEqual(i.tool_usages.map((t: any) => [t.provider_tool_call_id, t.tool, t.input]), order.map((n) => [`toolu_${n}`, `tool_${n}`, `{"n":${n}}`]));
    assert.deepEqual(i.model_thoughts.map((t: any) => t.content), order.map((n) => `thought #${n}`));
  });

  it("stores an OpenAI answer's parallel tool calls in the model's order", async () => {
    const calls = Array.from({ length: 8 }, (_, n) => ({ id: `call_${n}`, type: "function", function: { name: `fn_${n}`, arguments: `{"n":${n}}` } }));
    upstream.answer({
      json: chatCompletion({ id: "chatcmpl-order", toolCalls: calls, completionTokens: 3 }),
    });
    const { response } = await openai().chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "go" }] }).withResponse();
    const id = response.headers.get("x-weir-interception-id")!;
    const i = await interception(id, (x) => x.tool_usages.length === calls.length);
    assert.deepEqual(i.tool_usages.map((t: any) => t.provider_tool_call_id), calls.map((c) => c.id));
  });

  // The deprecated `functions` field is answered with `function_call`, which has no id.
  it("records the legacy function_call of a chat answer, blocking and streamed, with an empty call id", async () => {
    const functions = [{ name: "get_weather", parameters: { type: "object", properties: { location: { type: "string" } } } }];
    const row = (i: any) => i.tool_usages.map((t: any) => [t.provider_response_id, t.provider_tool_call_id, t.provider_item_id, t.tool, t.input, t.injected, t.server_url]);

    upstream.answer({
      json: {
        ...chatCompletion({ id: "chatcmpl-fn" }),
        choices: [{ index: 0, message: { role: "assistant", content: null, function_call: { name: "get_weather", arguments: '{"location": "Paris"}' } }, finish_reason: "function_call" }],
      },
    });
    const blocking = await openai().chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "weather?" }], functions }).withResponse();
    assert.equal(blocking.data.choices[0]!.message.function_call?.name, "get_weather");
    const blockingRow = await interception(blocking.response.headers.get("x-weir-interception-id")!, () => true);
    assert.deepEqual(row(blockingRow), [["chatcmpl-fn", "", "", "get_weather", '{"location": "Paris"}', false, null]]);

    const chunk = (delta: object, finish: string | null) =>
      sse({ id: "chatcmpl-fs", object: "chat.completion.chunk", created: 1, model: "gpt-4o", choices: [{ index: 0, delta, finish_reason: finish }] });
    upstream.answer({
      events: [
        chunk({ role: "assistant", content: null, function_call: { name: "get_weather", arguments: "" } }, null),
        chunk({ function_call: { arguments: '{"loc' } }, null),
        chunk({ function_call: { arguments: 'ation": "Paris"}' } }, null),
        chunk({}, "function_call"),
        sse({ id: "chatcmpl-fs", object: "chat.completion.chunk", created: 1, model: "gpt-4o", choices: [], usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 } }),
        "data: [DONE]\n\n",
      ],
    });
    const stream = await openai().chat.completions.create({ model: "gpt-4o", stream: true, messages: [{ role: "user", content: "weather?" }], functions }).withResponse();
    let args = "";
    for await (const c of stream.data) args += c.choices[0]?.delta.function_call?.arguments ?? "";
    assert.equal(args, '{"location": "Paris"}');
    const streamedRow = await interception(stream.response.headers.get("x-weir-interception-id")!, () => true);
    assert.deepEqual(row(streamedRow), [["chatcmpl-fs", "", "", "get_weather", '{"location": "Paris"}', false, null]]);
  });

  it("stores an Anthropic answer's tool inputs as the model wrote them, not re-serialised", async () => {
    // Parsed and stringified again, 12345678901234567890 would become 12345678901234567000,
    // 2.50 would become 2.5, and the key "2" would move ahead of "b".
    upstream.answer({
      body: `{"id": "msg_raw", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [
          {"type": "text", "text": "Looking up."},
          {"type": "tool_use", "id": "toolu_big", "name": "lookup", "input": {"b": "x y", "2": 2.50, "n": 12345678901234567890}},
          {"type": "tool_use", "id": "toolu_empty", "name": "ping", "input": {}}
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 4, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}`,
    });
    const { data, response } = await anthropic().messages.create({ model: "claude-sonnet-4-5", max_tokens: 100, messages: [{ role: "user", content: "look it up" }] }).withResponse();
    assert.equal(data.stop_reason, "tool_use");
    const id = response.headers.get("x-weir-interception-id")!;
    const i = await interception(id, (x) => x.tool_usages.length === 2);
    assert.deepEqual(
      i.tool_usages.map((t: any) => [t.provider_tool_call_id, t.tool, t.input]),
      [
        ["toolu_big", "lookup", `{"b":"x y","2":2.50,"n":12345678901234567890}`],
        ["toolu_empty", "ping", "{}"],
      ],
    );
  });

  it("records what a Claude Code user typed as the prompt, not the reminders sent ahead of it", async () => {
    upstream.answer({
      json: { id: "msg_prompt", type: "message", role: "assistant", model: "claude-sonnet-4-5", content: [{ type: "text", text: "ok" }], stop_reason: "end_turn", usage: ANTHROPIC_USAGE },
    });
    const reminder = "<system-reminder>\nAs you answer, use this context:\n# claudeMd\nproject instructions\n</system-reminder>";
    const { response } = await anthropic()
      .messages.create({
        model: "claude-sonnet-4-5",
        max_tokens: 100,
        messages: [
          { role: "user", content: [{ type: "text", text: reminder }, { type: "text", text: "what does this repo do?" }] },
          // Claude Code 2.1 appends its agent list as a system message after the user's turn.
          { role: "system", content: "Available agent types for the Agent tool: ..." } as unknown as Anthropic.MessageParam,
        ],
      })
      .withResponse();
    const id = response.headers.get("x-weir-interception-id")!;
    const i = await interception(id, (x) => x.prompts.length === 1);
    assert.equal(i.prompts[0].prompt, "what does this repo do?");
    // The provider still got the whole message.
    assert.ok(upstream.received.at(-1)!.body.includes("# claudeMd"));
  });

  it("asks a chat stream for its usage, records it, and hides it from a client that did not ask", async () => {
    const chunk = (rest: string) => `data: {"id":"chatcmpl-u","object":"chat.completion.chunk","created":1,"model":"gpt-4o",${rest}}\n\n`;
    upstream.answer({
      events: [
        chunk('"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}],"usage":null'),
        chunk('"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null'),
        chunk('"choices":[],"usage":{"prompt_tokens":50,"completion_tokens":7,"total_tokens":57,"prompt_tokens_details":{"cached_tokens":20}}'),
        "data: [DONE]\n\n",
      ],
    });
    const sent = '{"model":"gpt-4o","stream":true,"seed":9007199254740993,"messages":[{"role":"user","content":"hi"}]}';
    const res = await fetch(`${stack.replicas[0]!.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.user.apiKey}`, "content-type": "application/json" },
      body: sent,
    });
    assert.equal(res.status, 200);
    // The client gets the stream it asked for: no usage chunk, no "usage":null.
    assert.equal(
      await res.text(),
      chunk('"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]') +
        chunk('"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]') +
        "data: [DONE]\n\n",
    );
    // The provider got the client's exact bytes (the seed beyond 2^53 intact) plus the option.
    assert.equal(upstream.received.at(-1)!.body, `${sent.slice(0, -1)},"stream_options":{"include_usage":true}}`);
    const id = res.headers.get("x-weir-interception-id")!;
    const i = await interception(id, (x) => x.token_usages.length === 1);
    assert.deepEqual(
      [i.token_usages[0].input_tokens, i.token_usages[0].output_tokens, i.token_usages[0].cache_read_input_tokens],
      [30, 7, 20],
    );

    // The loop most client code writes works through the gateway.
    let text = "";
    const stream = await openai().chat.completions.create({ model: "gpt-4o", stream: true, messages: [{ role: "user", content: "hi" }] });
    for await (const c of stream) text += c.choices[0]!.delta.content ?? "";
    assert.equal(text, "Hi");

    // A client that asked for usage gets the provider's stream untouched.
    const asked = await openai().chat.completions.create({ model: "gpt-4o", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "hi" }] });
    const usages: unknown[] = [];
    for await (const c of asked) usages.push(c.usage);
    assert.deepEqual(usages.map((u) => (u === null ? null : (u as { total_tokens: number }).total_tokens)), [null, null, 57]);
  });

  // 10,000 input tokens: 2,000 read from the cache, 7,000 written to it, 1,000 neither.
  it("records OpenAI's cache-written tokens as cache write, not as input (Chat and a Responses stream)", async () => {
    const usageOf = (i: any) => [i.token_usages[0].input_tokens, i.token_usages[0].cache_read_input_tokens, i.token_usages[0].cache_write_input_tokens, i.token_usages[0].output_tokens];
    upstream.answer({
      json: { ...chatCompletion({ id: "chatcmpl-cw", completionTokens: 50 }), usage: { prompt_tokens: 10_000, completion_tokens: 50, total_tokens: 10_050, prompt_tokens_details: { cached_tokens: 2_000, cache_write_tokens: 7_000 } } },
    });
    const chat = await openai().chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }).withResponse();
    const chatRow = await interception(chat.response.headers.get("x-weir-interception-id")!, (x) => x.token_usages.length === 1);
    assert.deepEqual(usageOf(chatRow), [1_000, 2_000, 7_000, 50]);

    const response = { id: "resp_cw", object: "response", status: "completed", model: "gpt-4o", output: [], usage: { input_tokens: 10_000, input_tokens_details: { cached_tokens: 2_000, cache_write_tokens: 7_000 }, output_tokens: 50, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 10_050 } };
    upstream.answer({
      events: [
        sse({ type: "response.created", sequence_number: 0, response: { ...response, status: "in_progress", usage: null } }, "response.created"),
        sse({ type: "response.completed", sequence_number: 1, response }, "response.completed"),
      ],
    });
    const streamed = await openai().responses.create({ model: "gpt-4o", input: "hi", stream: true }).withResponse();
    for await (const _ of streamed.data);
    const responsesRow = await interception(streamed.response.headers.get("x-weir-interception-id")!, (x) => x.token_usages.length === 1);
    assert.deepEqual(usageOf(responsesRow), [1_000, 2_000, 7_000, 50]);
  });

  it("records a Responses answer's commentary as a thought, the client-run built-in tools' calls, and a failed status as an error", async () => {
    const operation = { type: "create_file", path: "hello.txt", diff: "+hi" };
    upstream.answer({
      json: {
        id: "resp_tools", object: "response", status: "completed", model: "gpt-5.3-codex",
        output: [
          { id: "msg_c", type: "message", role: "assistant", phase: "commentary", status: "completed", content: [{ type: "output_text", text: "Creating the file.", annotations: [] }] },
          { id: "ap_1", type: "apply_patch_call", call_id: "call_patch", status: "completed", operation },
          { id: "sh_1", type: "shell_call", call_id: "call_shell", status: "completed", action: { commands: ["cat hello.txt"] }, environment: null },
        ],
        usage: { input_tokens: 10, output_tokens: 5 },
      },
    });
    const done = await openai().responses.create({ model: "gpt-5.3-codex", input: "make hello.txt" }).withResponse();
    const first = await interception(done.response.headers.get("x-weir-interception-id")!, (x) => x.tool_usages.length === 2 && x.model_thoughts.length === 1);
    assert.deepEqual(first.tool_usages.map((t: any) => [t.provider_tool_call_id, t.tool, t.input]), [
      ["call_patch", "apply_patch", JSON.stringify(operation)],
      ["call_shell", "shell", '{"commands":["cat hello.txt"]}'],
    ]);
    assert.equal(first.model_thoughts[0].content, "Creating the file.");
    assert.equal(first.error_type, null);

    // The patch's output threads the next turn onto this interception; that turn fails with 200.
    upstream.answer({ json: { id: "resp_failed", object: "response", status: "failed", model: "gpt-5.3-codex", error: { code: "server_error", message: "The model failed." }, output: [] } });
    const failed = await openai().responses.create({ model: "gpt-5.3-codex", input: [{ type: "apply_patch_call_output", call_id: "call_patch", status: "completed" }] }).withResponse();
    const second = await interception(failed.response.headers.get("x-weir-interception-id")!, () => true);
    assert.equal(second.thread_parent_id, first.id);
    assert.deepEqual([second.error_type, second.error_message], ["upstream_error", '{"code":"server_error","message":"The model failed."}']);
  });

  it("keeps a prompt holding U+0000 (valid JSON, refused by PostgreSQL text) with U+FFFD in its place", async () => {
    upstream.answer({
      json: chatCompletion({ id: "chatcmpl-nul", content: "ok" }),
    });
    const { response } = await openai().chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "bad\u0000prompt" }] }).withResponse();
    const id = response.headers.get("x-weir-interception-id")!;
    const i = await interception(id, (x) => x.prompts.length === 1 && x.token_usages.length === 1);
    assert.equal(i.prompts[0].prompt, "bad\uFFFDprompt");
  });
});
