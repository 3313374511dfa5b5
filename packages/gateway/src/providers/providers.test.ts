// Pins request reading, token accounting (reference table) and stream observation per API,
// including the Anthropic cumulative message_delta trap (cache tokens counted once).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SseParser, anthropicMessagesApi, chatTokenUsage, openaiChatApi, openaiResponsesApi, responsesTokenUsage } from "../index.js";
import type { Observation, ProviderApi } from "../index.js";
import { hideForcedUsage } from "./forced-stream-usage.js";

function sse(events: readonly (readonly [string | undefined, unknown])[]): string {
  return events
    .map(([event, data]) => `${event === undefined ? "" : `event: ${event}\n`}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`)
    .join("");
}

/** Feeds a stream to an observer in small chunks, as it would arrive. */
function observe(api: ProviderApi, text: string, chunk = 5): Observation {
  const parser = new SseParser();
  const observer = api.createStreamObserver();
  for (let i = 0; i < text.length; i += chunk) for (const e of parser.push(text.slice(i, i + chunk))) observer.onEvent(e);
  for (const e of parser.end().events) observer.onEvent(e);
  return observer.result();
}

describe("token accounting", () => {
  it("OpenAI chat: input excludes cached tokens; extras in metadata", () => {
    assert.deepEqual(
      chatTokenUsage({
        prompt_tokens: 200,
        completion_tokens: 35,
        prompt_tokens_details: { cached_tokens: 80, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 5, audio_tokens: 0, accepted_prediction_tokens: 1, rejected_prediction_tokens: 2 },
      }),
      {
        input: 120,
        output: 35,
        cacheRead: 80,
        cacheWrite: 0,
        extras: {
          prompt_audio: 0,
          prompt_cached: 80,
          completion_accepted_prediction: 1,
          completion_rejected_prediction: 2,
          completion_audio: 0,
          completion_reasoning: 5,
        },
      },
    );
  });

  it("OpenAI responses: input excludes cached tokens", () => {
    assert.deepEqual(
      responsesTokenUsage({ input_tokens: 200, input_tokens_details: { cached_tokens: 80 }, output_tokens: 35, output_tokens_details: { reasoning_tokens: 10 } }),
      { input: 120, output: 35, cacheRead: 80, cacheWrite: 0, extras: { input_cached: 80, output_reasoning: 10 } },
    );
  });

  // 10,000 input tokens: 2,000 read from the cache, 7,000 written to it, 1,000 neither.
  it("OpenAI chat: cache-written tokens are cache write, not input", () => {
    const usage = chatTokenUsage({ prompt_tokens: 10_000, completion_tokens: 50, prompt_tokens_details: { cached_tokens: 2_000, cache_write_tokens: 7_000 } });
    assert.deepEqual(usage, { input: 1_000, output: 50, cacheRead: 2_000, cacheWrite: 7_000, extras: { prompt_cached: 2_000, prompt_cache_write: 7_000 } });
  });

  it("OpenAI responses: cache-written tokens are cache write, not input", () => {
    const usage = responsesTokenUsage({ input_tokens: 10_000, input_tokens_details: { cached_tokens: 2_000, cache_write_tokens: 7_000 }, output_tokens: 50 });
    assert.deepEqual(usage, { input: 1_000, output: 50, cacheRead: 2_000, cacheWrite: 7_000, extras: { input_cached: 2_000, input_cache_write: 7_000 } });
  });

  it("OpenAI: details adding up to more than the input take off only the cached tokens", () => {
    const usage = responsesTokenUsage({ input_tokens: 100, input_tokens_details: { cached_tokens: 60, cache_write_tokens: 70 }, output_tokens: 1 });
    assert.deepEqual([usage?.input, usage?.cacheRead, usage?.cacheWrite], [40, 60, 70]);
  });

  const anthropicCases = [
    {
      name: "message_delta repeats cumulative input and cache counts",
      start: { input_tokens: 120, cache_creation_input_tokens: 40, cache_read_input_tokens: 80, output_tokens: 1 },
      delta: { output_tokens: 35, input_tokens: 120, cache_creation_input_tokens: 40, cache_read_input_tokens: 80 },
      want: { input: 120, output: 35, cacheRead: 80, cacheWrite: 40 },
    },
    {
      name: "message_delta carries only output tokens",
      start: { input_tokens: 120, cache_creation_input_tokens: 40, cache_read_input_tokens: 80, output_tokens: 1 },
      delta: { output_tokens: 35 },
      want: { input: 120, output: 35, cacheRead: 80, cacheWrite: 40 },
    },
    {
      name: "usage only arrives in message_delta",
      start: { input_tokens: 0, output_tokens: 0 },
      delta: { output_tokens: 35, input_tokens: 120, cache_creation_input_tokens: 40, cache_read_input_tokens: 80 },
      want: { input: 120, output: 35, cacheRead: 80, cacheWrite: 40 },
    },
    {
      name: "a compatible provider's zeros in message_delta do not erase message_start's counts",
      start: { input_tokens: 500, cache_creation_input_tokens: 600, cache_read_input_tokens: 700, output_tokens: 1 },
      delta: { output_tokens: 80, input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      want: { input: 500, output: 80, cacheRead: 700, cacheWrite: 600 },
    },
    {
      name: "server tools raise the input count in message_delta",
      start: { input_tokens: 500, cache_read_input_tokens: 700, output_tokens: 1 },
      delta: { output_tokens: 80, input_tokens: 2500, cache_read_input_tokens: 700 },
      want: { input: 2500, output: 80, cacheRead: 700, cacheWrite: 0 },
    },
  ];
  for (const c of anthropicCases) {
    it(`Anthropic stream: ${c.name}`, () => {
      const got = observe(
        anthropicMessagesApi,
        sse([
          ["message_start", { type: "message_start", message: { id: "msg_1", usage: c.start } }],
          ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: c.delta }],
          ["message_stop", { type: "message_stop" }],
        ]),
      );
      const { extras: _extras, ...counts } = got.usage ?? { extras: {} };
      assert.deepEqual(counts, c.want);
      assert.equal(got.complete, true);
      assert.equal(got.responseId, "msg_1");
    });
  }
});

describe("parseRequest", () => {
  const cases: { name: string; api: ProviderApi; body: Record<string, unknown>; prompt: string | undefined; correlating: string | undefined; stream: boolean }[] = [
    { name: "chat string prompt", api: openaiChatApi, body: { model: "m", messages: [{ role: "system", content: "s" }, { role: "user", content: "hello" }] }, prompt: "hello", correlating: undefined, stream: false },
    {
      name: "chat content parts: the last text part is the prompt",
      api: openaiChatApi,
      body: { model: "m", messages: [{ role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }, { type: "image_url", image_url: {} }] }] },
      prompt: "b",
      correlating: undefined,
      stream: false,
    },
    {
      name: "chat tool result",
      api: openaiChatApi,
      body: { model: "m", stream: true, messages: [{ role: "user", content: "q" }, { role: "assistant", tool_calls: [] }, { role: "tool", tool_call_id: "call_9", content: "r" }] },
      prompt: undefined,
      correlating: "call_9",
      stream: true,
    },
    { name: "responses string input", api: openaiResponsesApi, body: { model: "m", input: "hi there" }, prompt: "hi there", correlating: undefined, stream: false },
    {
      name: "responses message input",
      api: openaiResponsesApi,
      body: { model: "m", input: [{ role: "user", content: [{ type: "input_text", text: "x" }, { type: "input_image", image_url: "u" }, { type: "input_text", text: "y" }] }] },
      prompt: "x\ny",
      correlating: undefined,
      stream: false,
    },
    {
      name: "responses function output",
      api: openaiResponsesApi,
      body: { model: "m", stream: true, input: [{ role: "user", content: "q" }, { type: "function_call_output", call_id: "call_3", output: "r" }] },
      prompt: undefined,
      correlating: "call_3",
      stream: true,
    },
    { name: "anthropic string", api: anthropicMessagesApi, body: { model: "m", messages: [{ role: "user", content: "hey" }] }, prompt: "hey", correlating: undefined, stream: false },
    {
      name: "anthropic content blocks: the last text block is the prompt, not the context ahead of it",
      api: anthropicMessagesApi,
      body: {
        model: "m",
        messages: [{ role: "user", content: [
          { type: "text", text: "<system-reminder>\n# claudeMd\nproject instructions\n</system-reminder>" },
          { type: "text", text: "what does this repo do?" },
          { type: "image", source: {} },
          { type: "text", text: "" },
        ] }],
      },
      prompt: "what does this repo do?",
      correlating: undefined,
      stream: false,
    },
    {
      name: "anthropic: a system message after the turn (Claude Code's agent list) leaves the user's text the prompt",
      api: anthropicMessagesApi,
      body: { model: "m", messages: [{ role: "user", content: [{ type: "text", text: "say hi" }] }, { role: "system", content: "Available agent types for the Agent tool: ..." }] },
      prompt: "say hi",
      correlating: undefined,
      stream: false,
    },
    {
      name: "anthropic: a system message after a tool result still threads the interception",
      api: anthropicMessagesApi,
      body: {
        model: "m",
        messages: [
          { role: "user", content: "q" },
          { role: "assistant", content: [{ type: "tool_use", id: "toolu_5", name: "t", input: {} }] },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_5", content: "r" }] },
          { role: "system", content: "<system-reminder>...</system-reminder>" },
        ],
      },
      prompt: undefined,
      correlating: "toolu_5",
      stream: false,
    },
    {
      name: "chat: a developer message after the user's turn",
      api: openaiChatApi,
      body: { model: "m", messages: [{ role: "user", content: "hi" }, { role: "developer", content: "be brief" }] },
      prompt: "hi",
      correlating: undefined,
      stream: false,
    },
    {
      name: "responses: a developer item after the user's turn",
      api: openaiResponsesApi,
      body: { model: "m", input: [{ role: "user", content: [{ type: "input_text", text: "x" }] }, { role: "developer", content: "be brief" }] },
      prompt: "x",
      correlating: undefined,
      stream: false,
    },
    {
      name: "anthropic tool result and text: the text is the prompt",
      api: anthropicMessagesApi,
      body: { model: "m", messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_2", content: "r" }, { type: "text", text: "go on" }] }] },
      prompt: "go on",
      correlating: "toolu_2",
      stream: false,
    },
    {
      name: "anthropic tool result",
      api: anthropicMessagesApi,
      body: { model: "m", messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "r" }] }] },
      prompt: undefined,
      correlating: "toolu_1",
      stream: false,
    },
    {
      name: "anthropic last message from the assistant",
      api: anthropicMessagesApi,
      body: { model: "m", messages: [{ role: "user", content: "q" }, { role: "assistant", content: "prefill" }] },
      prompt: undefined,
      correlating: undefined,
      stream: false,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = c.api.parseRequest(c.body, JSON.stringify(c.body));
      assert.equal(got.prompt, c.prompt);
      assert.equal(got.correlatingToolCallId, c.correlating);
      assert.equal(got.stream, c.stream);
      assert.equal(got.model, "m");
    });
  }

  /** What the chat API makes of a request given as the client's exact text. */
  const chat = (text: string) => openaiChatApi.parseRequest(JSON.parse(text), text);

  it("chat streams force stream_options.include_usage into the client's exact text", () => {
    // A seed beyond 2^53, a float written "1.0" and spacing survive: nothing is re-serialised.
    const text = '{ "model": "m", "stream": true, "seed": 9007199254740993, "temperature": 1.0, "messages": [] }\n';
    const got = chat(text);
    assert.equal(got.rewrittenBody, '{ "model": "m", "stream": true, "seed": 9007199254740993, "temperature": 1.0, "messages": [] ,"stream_options":{"include_usage":true}}\n');
    assert.deepEqual(JSON.parse(String(got.rewrittenBody ?? "null")).stream_options, { include_usage: true });
    assert.equal(got.clientEvent, hideForcedUsage);
  });

  it("chat streams with their own stream_options get include_usage merged in", () => {
    for (const [options, want] of [
      [{ include_obfuscation: false }, { include_obfuscation: false, include_usage: true }],
      [{ include_usage: false }, { include_usage: true }],
      [null, { include_usage: true }],
    ] as const) {
      const got = chat(JSON.stringify({ model: "m", stream: true, stream_options: options, messages: [] }));
      assert.deepEqual(JSON.parse(String(got.rewrittenBody ?? "null")), { model: "m", stream: true, stream_options: want, messages: [] });
      assert.equal(got.clientEvent, hideForcedUsage, "the client did not ask for usage: it does not see it");
    }
    // Only the option's own value is rewritten: the seed beyond 2^53 and "1.0" survive.
    const text = '{"model": "m", "stream": true, "stream_options": {"include_usage": false}, "seed": 9007199254740993, "temperature": 1.0}';
    assert.equal(chat(text).rewrittenBody, '{"model": "m", "stream": true, "stream_options": {"include_usage":true}, "seed": 9007199254740993, "temperature": 1.0}');
  });

  it("chat streams that already ask for usage, and blocking requests, are forwarded untouched", () => {
    for (const text of ['{"model":"m","stream":true,"stream_options":{"include_usage":true}}', '{"model":"m"}', '{"model":"m","stream":false}']) {
      assert.equal(chat(text).rewrittenBody, undefined, text);
      assert.equal(chat(text).clientEvent, undefined, text);
    }
    for (const api of [openaiResponsesApi, anthropicMessagesApi]) {
      const got = api.parseRequest({ model: "m", stream: true }, '{"model":"m","stream":true}');
      assert.equal(got.rewrittenBody, undefined);
      assert.equal(got.clientEvent, undefined);
    }
  });

  it("a client that did not ask for usage gets the stream without it", () => {
    const parser = new SseParser();
    const stream =
      'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":null}\n\n' +
      'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null,"obfuscation":"x"}\n\n' +
      'data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}\n\n' +
      ": keep-alive\n\n" +
      "data: [DONE]\n\n";
    assert.equal(
      parser.push(stream).map(hideForcedUsage).join(""),
      'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n' +
        'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"obfuscation":"x"}\n\n' +
        ": keep-alive\n\n" +
        "data: [DONE]\n\n",
    );
    // Usage a provider sends inside a chunk that has choices stays: that chunk is content too.
    const both = 'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"."}}],"usage":{"prompt_tokens":5}}\n\n';
    assert.equal(new SseParser().push(both).map(hideForcedUsage).join(""), both);
  });
});

describe("stream observers", () => {
  it("chat: tool call arguments assembled from deltas; [DONE] completes", () => {
    const got = observe(
      openaiChatApi,
      sse([
        [undefined, { id: "c1", choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: "call_1", function: { name: "get_weather", arguments: "" } }] } }] }],
        [undefined, { id: "c1", choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"loc' } }] } }] }],
        [undefined, { id: "c1", choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: 'ation":"Paris"}' } }] } }] }],
        [undefined, { id: "c1", choices: [], usage: { prompt_tokens: 10, completion_tokens: 2 } }],
        [undefined, "[DONE]"],
      ]),
    );
    assert.deepEqual(got.toolCalls, [{ id: "call_1", name: "get_weather", input: '{"location":"Paris"}', itemId: "" }]);
    assert.equal(got.complete, true);
    assert.equal(got.usage?.input, 10);
  });

  it("chat: a custom (freeform) tool's streamed call is recorded as its blocking form is", () => {
    const got = observe(
      openaiChatApi,
      sse([
        [undefined, { id: "c2", choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: "call_c", type: "custom", custom: { name: "apply_patch", input: "*** Begin" } }] } }] }],
        [undefined, { id: "c2", choices: [{ index: 0, delta: { tool_calls: [{ index: 0, custom: { input: " Patch" } }] } }] }],
        [undefined, "[DONE]"],
      ]),
    );
    assert.deepEqual(got.toolCalls, [{ id: "call_c", name: "apply_patch", input: "*** Begin Patch", itemId: "" }]);
  });

  // The deprecated `functions` request field is answered with `function_call` instead of
  // `tool_calls`: one call per choice, no id, its name in the first fragment only.
  it("chat: a legacy function_call is a tool call without an id, blocking and streamed per choice", () => {
    const blocking = openaiChatApi.observeResponse(
      {
        id: "chatcmpl-f",
        choices: [{ index: 0, message: { role: "assistant", content: null, function_call: { name: "get_weather", arguments: '{"location":"Paris"}' } }, finish_reason: "function_call" }],
      },
      "",
    );
    assert.deepEqual(blocking.toolCalls, [{ id: "", name: "get_weather", input: '{"location":"Paris"}', itemId: "" }]);

    const fragment = (index: number, functionCall: object) => [undefined, { id: "c3", choices: [{ index, delta: { function_call: functionCall }, finish_reason: null }] }] as const;
    const streamed = observe(
      openaiChatApi,
      sse([
        [undefined, { id: "c3", choices: [{ index: 0, delta: { role: "assistant", content: null, function_call: { name: "get_weather", arguments: "" } }, finish_reason: null }] }],
        fragment(1, { name: "get_time", arguments: '{"zone"' }),
        fragment(0, { arguments: '{"loc' }),
        fragment(1, { arguments: ':"CET"}' }),
        fragment(0, { arguments: 'ation":"Paris"}' }),
        [undefined, { id: "c3", choices: [{ index: 0, delta: {}, finish_reason: "function_call" }] }],
        [undefined, { id: "c3", choices: [], usage: { prompt_tokens: 10, completion_tokens: 4 } }],
        [undefined, "[DONE]"],
      ]),
    );
    assert.deepEqual(streamed.toolCalls, [
      { id: "", name: "get_weather", input: '{"location":"Paris"}', itemId: "" },
      { id: "", name: "get_time", input: '{"zone":"CET"}', itemId: "" },
    ]);
    assert.equal(streamed.complete, true);
  });

  it("chat: a stream without [DONE] is incomplete, unless its final usage chunk came", () => {
    assert.equal(observe(openaiChatApi, sse([[undefined, { id: "c1", choices: [] }]])).complete, false);
    const finished = { id: "c1", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] };
    assert.equal(observe(openaiChatApi, sse([[undefined, finished]])).complete, false);
    // Usage in every chunk (some servers' continuous usage), beside choices: not the end.
    const running = { id: "c1", choices: [{ index: 0, delta: { content: "hi" }, finish_reason: null }], usage: { prompt_tokens: 3, completion_tokens: 1 } };
    assert.equal(observe(openaiChatApi, sse([[undefined, running]])).complete, false);
    const withUsage = observe(openaiChatApi, sse([[undefined, finished], [undefined, { id: "c1", choices: [], usage: { prompt_tokens: 3, completion_tokens: 2 } }]]));
    assert.equal(withUsage.complete, true);
    assert.equal(withUsage.usage?.output, 2);
  });

  it("chat: an upstream error chunk is reported", () => {
    const got = observe(openaiChatApi, sse([[undefined, { error: { message: "overloaded" } }]]));
    assert.equal(got.upstreamError, '{"message":"overloaded"}');
  });

  it("responses: function calls with item ids, reasoning summaries, usage from completed", () => {
    const got = observe(
      openaiResponsesApi,
      sse([
        ["response.created", { type: "response.created", sequence_number: 0, response: { id: "resp_1", status: "in_progress" } }],
        ["response.output_item.done", { type: "response.output_item.done", sequence_number: 1, item: { id: "rs_1", type: "reasoning", summary: [{ type: "summary_text", text: "thinking..." }] } }],
        ["response.output_item.done", { type: "response.output_item.done", sequence_number: 2, item: { id: "fc_1", type: "function_call", call_id: "call_1", name: "f", arguments: "{}" } }],
        ["response.completed", { type: "response.completed", sequence_number: 3, response: { id: "resp_1", usage: { input_tokens: 5, input_tokens_details: { cached_tokens: 2 }, output_tokens: 3 } } }],
      ]),
    );
    assert.equal(got.responseId, "resp_1");
    assert.deepEqual(got.toolCalls, [{ id: "call_1", name: "f", input: "{}", itemId: "fc_1" }]);
    assert.deepEqual(got.thoughts, [{ content: "thinking...", source: "reasoning_summary" }]);
    assert.deepEqual({ ...got.usage, extras: undefined }, { input: 3, output: 3, cacheRead: 2, cacheWrite: 0, extras: undefined });
    assert.equal(got.complete, true);
  });

  it("responses: Codex's local shell calls are tool calls; hosted tools are not", () => {
    const action = { type: "exec", command: ["ls", "-la"], working_directory: "/repo", timeout_ms: 1000 };
    const got = observe(
      openaiResponsesApi,
      sse([
        ["response.created", { type: "response.created", sequence_number: 0, response: { id: "resp_2", status: "in_progress" } }],
        ["response.output_item.done", { type: "response.output_item.done", sequence_number: 1, item: { id: "ws_1", type: "web_search_call", status: "completed", action: { type: "search", query: "q" } } }],
        ["response.output_item.done", { type: "response.output_item.done", sequence_number: 2, item: { id: "lsh_1", type: "local_shell_call", call_id: "call_sh", status: "completed", action } }],
        ["response.completed", { type: "response.completed", sequence_number: 3, response: { id: "resp_2", usage: { input_tokens: 5, output_tokens: 3 } } }],
      ]),
    );
    assert.deepEqual(got.toolCalls, [{ id: "call_sh", name: "local_shell", input: JSON.stringify(action), itemId: "lsh_1" }]);
    // Its output, sent back next turn, threads the next interception onto this one.
    const next = openaiResponsesApi.parseRequest({ model: "m", input: [{ type: "local_shell_call_output", call_id: "call_sh", output: "total 0" }] }, "{}");
    assert.equal(next.correlatingToolCallId, "call_sh");
  });

  it("responses: the shell, apply_patch and computer calls the client runs are tool calls, and their outputs thread", () => {
    const shell = { commands: ["ls"], timeout_ms: null, max_output_length: null };
    const operation = { type: "update_file", path: "a.ts", diff: "@@ -1 +1 @@" };
    const click = { type: "click", button: "left", x: 1, y: 2 };
    const items = [
      { id: "sh_1", type: "shell_call", call_id: "call_shell", status: "completed", action: shell, environment: null },
      { id: "ap_1", type: "apply_patch_call", call_id: "call_patch", status: "completed", operation },
      { id: "cu_1", type: "computer_call", call_id: "call_click", status: "completed", action: click, pending_safety_checks: [] },
      { id: "cu_2", type: "computer_call", call_id: "call_batch", status: "completed", actions: [click, click], pending_safety_checks: [] },
    ];
    const want = [
      { id: "call_shell", name: "shell", input: JSON.stringify(shell), itemId: "sh_1" },
      { id: "call_patch", name: "apply_patch", input: JSON.stringify(operation), itemId: "ap_1" },
      { id: "call_click", name: "computer", input: JSON.stringify(click), itemId: "cu_1" },
      { id: "call_batch", name: "computer", input: JSON.stringify([click, click]), itemId: "cu_2" },
    ];
    const streamed = observe(
      openaiResponsesApi,
      sse([
        ...items.map((item, n): [string, unknown] => ["response.output_item.done", { type: "response.output_item.done", sequence_number: n, item }]),
        ["response.completed", { type: "response.completed", sequence_number: 9, response: { id: "resp_3", usage: { input_tokens: 5, output_tokens: 3 } } }],
      ]),
    );
    assert.deepEqual(streamed.toolCalls, want);
    assert.deepEqual(openaiResponsesApi.observeResponse({ id: "resp_3", status: "completed", output: items }, "").toolCalls, want);
    for (const [type, call] of [["shell_call_output", "call_shell"], ["apply_patch_call_output", "call_patch"], ["computer_call_output", "call_click"]]) {
      const next = openaiResponsesApi.parseRequest({ model: "m", input: [{ type, call_id: call, output: "done" }] }, "{}");
      assert.equal(next.correlatingToolCallId, call, type);
    }
  });

  it("responses: a built-in tool's input is recorded as the provider wrote it, large integers whole", () => {
    const action = `{"commands": ["ls -la"], "timeout_ms": 12345678901234567890}`;
    const want = [{ id: "call_shell", name: "shell", input: `{"commands":["ls -la"],"timeout_ms":12345678901234567890}`, itemId: "sh_1" }];
    const item = `{"id": "sh_1", "type": "shell_call", "call_id": "call_shell", "status": "completed", "action": ${action}}`;
    const blocking = `{"id": "resp_7", "status": "completed", "output": [{"type": "reasoning", "summary": []}, ${item}]}`;
    assert.deepEqual(openaiResponsesApi.observeResponse(JSON.parse(blocking), blocking).toolCalls, want);
    const streamed = (events: string) => observe(openaiResponsesApi, events).toolCalls;
    assert.deepEqual(streamed(`event: response.output_item.done\ndata: {"type": "response.output_item.done", "sequence_number": 1, "item": ${item}}\n\n`), want);
    // Output only in the final response.
    assert.deepEqual(streamed(`event: response.completed\ndata: {"type": "response.completed", "sequence_number": 1, "response": ${blocking}}\n\n`), want);
  });

  it("responses: an assistant's commentary messages are thoughts; its final answer is not", () => {
    const message = (phase: string, text: string) => ({ id: `msg_${phase}`, type: "message", role: "assistant", phase, status: "completed", content: [{ type: "output_text", text, annotations: [] }] });
    const output = [message("commentary", "Reading the tests first."), { id: "fc_1", type: "function_call", call_id: "call_1", name: "f", arguments: "{}" }, message("final_answer", "Done.")];
    const got = openaiResponsesApi.observeResponse({ id: "resp_4", status: "completed", output }, "");
    assert.deepEqual(got.thoughts, [{ content: "Reading the tests first.", source: "commentary" }]);
  });

  it("responses: a blocking answer with status failed reports its error, like a stream's response.failed", () => {
    const failed = openaiResponsesApi.observeResponse({ id: "resp_5", status: "failed", error: { code: "server_error", message: "The model failed." }, output: [] }, "");
    assert.equal(failed.upstreamError, '{"code":"server_error","message":"The model failed."}');
    assert.equal(openaiResponsesApi.observeResponse({ id: "resp_6", status: "incomplete", output: [] }, "").upstreamError, undefined);
  });

  it("responses: the error event of a broken stream is a response.failed continuing the sequence", () => {
    const parser = new SseParser();
    const observer = openaiResponsesApi.createStreamObserver();
    for (const e of parser.push(sse([["response.created", { type: "response.created", sequence_number: 4, response: { id: "resp_9", object: "response", status: "in_progress" } }]]))) observer.onEvent(e);
    const text = observer.errorEvent("connection lost");
    const [event] = new SseParser().push(text);
    assert.equal(event?.event, "response.failed");
    assert.deepEqual(JSON.parse(event?.data ?? "null"), {
      type: "response.failed",
      sequence_number: 5,
      response: { id: "resp_9", object: "response", status: "failed", error: { code: "server_error", message: "connection lost" }, usage: null },
    });
  });

  it("anthropic: tool_use input and thinking assembled; error event is api_error", () => {
    const got = observe(
      anthropicMessagesApi,
      sse([
        ["message_start", { type: "message_start", message: { id: "msg_1", usage: { input_tokens: 1 } } }],
        ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "" } }],
        ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "hmm " } }],
        ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "ok" } }],
        ["content_block_stop", { type: "content_block_stop", index: 0 }],
        ["content_block_start", { type: "content_block_start", index: 1, content_block: { type: "tool_use", id: "toolu_1", name: "get_weather", input: {} } }],
        ["content_block_delta", { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '{"location": ' } }],
        ["content_block_delta", { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '"Paris, FR", "n": 12345678901234567890}' } }],
        ["content_block_stop", { type: "content_block_stop", index: 1 }],
      ]),
    );
    assert.deepEqual(got.thoughts, [{ content: "hmm ok", source: "thinking" }]);
    assert.deepEqual(got.toolCalls, [{ id: "toolu_1", name: "get_weather", input: '{"location":"Paris, FR","n":12345678901234567890}', itemId: "" }], "spaces removed as in a blocking answer, values untouched");
    assert.equal(got.complete, false);
    assert.equal(
      anthropicMessagesApi.createStreamObserver().errorEvent("gone"),
      'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"gone"}}\n\n',
    );
  });

  // Content deltas are not parsed (a cheap scan decides); what they say must never be mistaken
  // for usage, tool calls or errors, and usage or errors however spaced must still be read.
  it("chat: content deltas are skipped without losing usage, tool calls or errors", () => {
    const tricky = 'a "usage":{"prompt_tokens":999} and "tool_calls":[{"id":"x"}] and "error":{"m":1}';
    const got = observe(
      openaiChatApi,
      sse([
        [undefined, { id: "c1", choices: [{ index: 0, delta: { role: "assistant", content: "" } }], usage: null }],
        [undefined, { id: "c2", choices: [{ index: 0, delta: { content: tricky } }], usage: null }],
        [undefined, `{"id":"c1","choices":[{"index":0,"delta":{"tool_calls" : [{"index":0,"id":"call_1","function":{"name":"f","arguments":"{}"}}]}}],"usage":null}`],
        [undefined, `{"id":"c1","choices":[],"usage" :\t {"prompt_tokens":7,"completion_tokens":2}}`],
        [undefined, "[DONE]"],
      ]),
    );
    assert.equal(got.responseId, "c1");
    assert.equal(got.usage?.input, 7);
    assert.equal(got.usage?.output, 2);
    assert.deepEqual(got.toolCalls, [{ id: "call_1", name: "f", input: "{}", itemId: "" }]);
    assert.equal(got.upstreamError, undefined);
    assert.equal(got.complete, true);
    const late = observe(openaiChatApi, sse([[undefined, { id: "c1", choices: [] }], [undefined, '{"id":"c1","error" : {"message":"late"}}']]));
    assert.equal(late.upstreamError, '{"message":"late"}');
  });

  it("anthropic: text deltas are skipped; a thinking delta that quotes a text delta is not", () => {
    const got = observe(
      anthropicMessagesApi,
      sse([
        ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "" } }],
        ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: '{"type":"text_delta"}' } }],
        ["content_block_stop", { type: "content_block_stop", index: 0 }],
        ["content_block_start", { type: "content_block_start", index: 1, content_block: { type: "text", text: "" } }],
        ["content_block_delta", { type: "content_block_delta", index: 1, delta: { type: "text_delta", text: "hello" } }],
        ["ping", { type: "ping" }],
        ["content_block_stop", { type: "content_block_stop", index: 1 }],
        ["message_stop", { type: "message_stop" }],
      ]),
    );
    assert.deepEqual(got.thoughts, [{ content: '{"type":"text_delta"}', source: "thinking" }]);
    assert.equal(got.complete, true);
  });

  it("responses: text deltas still advance the sequence the error event continues", () => {
    const parser = new SseParser();
    const observer = openaiResponsesApi.createStreamObserver();
    const text = sse([
      ["response.created", { type: "response.created", sequence_number: 0, response: { id: "resp_1", object: "response" } }],
      ["response.output_text.delta", { type: "response.output_text.delta", delta: '"sequence_number":99', sequence_number: 1 }],
      ["response.output_text.delta", { type: "response.output_text.delta", delta: "x", sequence_number: 2 }],
    ]);
    for (const e of parser.push(text)) observer.onEvent(e);
    const [event] = new SseParser().push(observer.errorEvent("gone"));
    assert.equal((JSON.parse(event?.data ?? "{}") as { sequence_number?: number }).sequence_number, 3);
  });

  it("anthropic: an upstream error event completes the stream with an upstream error", () => {
    const got = observe(anthropicMessagesApi, sse([["error", { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }]]));
    assert.equal(got.complete, true);
    assert.equal(got.upstreamError, '{"type":"overloaded_error","message":"Overloaded"}');
  });
});
