// Pins the exact rows recorded per provider, streaming and blocking, driven by the official
// OpenAI and Anthropic SDKs through a real gateway: the interception, the prompt, token usage
// per the reference accounting table, tool calls, thoughts, and the end.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { REASONING_SUMMARY, THINKING_TEXT } from "@weir/llm-emulator";
import { fromMetadata } from "./index.js";
import { send, startHarness, waitForEnded } from "./test-harness.js";
import type { Harness } from "./test-harness.js";

let h: Harness;
let openai: OpenAI;
let anthropic: Anthropic;
before(async () => {
  h = await startHarness();
  openai = new OpenAI({ baseURL: `${h.gateway.url}/openai/v1`, apiKey: h.user.key, maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: `${h.gateway.url}/anthropic`, apiKey: h.user.key, maxRetries: 0 });
});
after(() => h.close());

const weatherTool = { name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] } };

/** What the client saw, to compare with what was recorded. */
interface Seen {
  responseId: string;
  toolCallId?: string;
  itemId?: string;
}

interface Case {
  name: string;
  provider: "openai" | "anthropic";
  model: string;
  prompt: string;
  run: () => Promise<Seen>;
  tokens: { input: bigint; output: bigint; cacheRead: bigint; cacheWrite: bigint };
  tool: boolean;
  thought?: string;
}

const OPENAI_TOKENS = { input: 120n, output: 35n, cacheRead: 80n, cacheWrite: 0n };
const ANTHROPIC_TOKENS = { input: 120n, output: 35n, cacheRead: 80n, cacheWrite: 40n };

const cases: Case[] = [
  {
    name: "openai chat, blocking, with a tool call",
    provider: "openai",
    model: "gpt-4o",
    prompt: "Weather in Paris?",
    tool: true,
    tokens: OPENAI_TOKENS,
    run: async () => {
      const r = await openai.chat.completions.create({
        model: "gpt-4o",
        messages: [{ role: "system", content: "be brief" }, { role: "user", content: "Weather in Paris?" }],
        tools: [{ type: "function", function: weatherTool }],
      });
      return { responseId: r.id, toolCallId: r.choices[0]?.message.tool_calls?.[0]?.id ?? "" };
    },
  },
  {
    name: "openai chat, streaming, with a tool call",
    provider: "openai",
    model: "gpt-4o",
    prompt: "Weather in Paris?",
    tool: true,
    tokens: OPENAI_TOKENS,
    run: async () => {
      const stream = await openai.chat.completions.create({
        model: "gpt-4o",
        stream: true,
        messages: [{ role: "user", content: "Weather in Paris?" }],
        tools: [{ type: "function", function: weatherTool }],
      });
      let responseId = "";
      let toolCallId = "";
      for await (const chunk of stream) {
        responseId ||= chunk.id;
        toolCallId ||= chunk.choices[0]?.delta.tool_calls?.[0]?.id ?? "";
      }
      return { responseId, toolCallId };
    },
  },
  {
    name: "openai chat, streaming, text with content parts",
    provider: "openai",
    model: "gpt-4o-mini",
    prompt: "second part",
    tool: false,
    tokens: OPENAI_TOKENS,
    run: async () => {
      const stream = await openai.chat.completions.create({
        model: "gpt-4o-mini",
        stream: true,
        messages: [{ role: "user", content: [{ type: "text", text: "first part" }, { type: "text", text: "second part" }] }],
      });
      let responseId = "";
      let text = "";
      for await (const chunk of stream) {
        responseId ||= chunk.id;
        text += chunk.choices[0]?.delta.content ?? "";
      }
      assert.equal(text, "Hello from the emulator");
      return { responseId };
    },
  },
  {
    name: "openai responses, blocking, with reasoning and a function call",
    provider: "openai",
    model: "o4-mini",
    prompt: "Weather in Paris?",
    tool: true,
    thought: REASONING_SUMMARY,
    tokens: OPENAI_TOKENS,
    run: async () => {
      const r = await openai.responses.create({
        model: "o4-mini",
        input: "Weather in Paris?",
        reasoning: { effort: "low", summary: "auto" },
        tools: [{ type: "function", strict: false, ...weatherTool }],
      });
      const call = r.output.find((item) => item.type === "function_call");
      return { responseId: r.id, toolCallId: call?.type === "function_call" ? call.call_id : "", itemId: call?.type === "function_call" ? (call.id ?? "") : "" };
    },
  },
  {
    name: "openai responses, streaming, with reasoning and a function call",
    provider: "openai",
    model: "o4-mini",
    prompt: "Weather in Paris?",
    tool: true,
    thought: REASONING_SUMMARY,
    tokens: OPENAI_TOKENS,
    run: async () => {
      const stream = await openai.responses.create({
        model: "o4-mini",
        stream: true,
        input: [{ role: "user", content: [{ type: "input_text", text: "Weather in Paris?" }] }],
        reasoning: { effort: "low", summary: "auto" },
        tools: [{ type: "function", strict: false, ...weatherTool }],
      });
      const seen: Seen = { responseId: "" };
      for await (const event of stream) {
        if (event.type === "response.created") seen.responseId = event.response.id;
        if (event.type === "response.output_item.done" && event.item.type === "function_call") {
          seen.toolCallId = event.item.call_id;
          seen.itemId = event.item.id ?? "";
        }
      }
      return seen;
    },
  },
  {
    name: "anthropic messages, blocking, with thinking and a tool call",
    provider: "anthropic",
    model: "claude-sonnet-4-6",
    prompt: "Weather in Paris?",
    tool: true,
    thought: THINKING_TEXT,
    tokens: ANTHROPIC_TOKENS,
    run: async () => {
      const r = await anthropic.messages.create({
        model: "claude-sonnet-4-6",
        max_tokens: 2048,
        thinking: { type: "enabled", budget_tokens: 1024 },
        tools: [{ name: weatherTool.name, description: weatherTool.description, input_schema: { type: "object", properties: { location: { type: "string" } } } }],
        messages: [{ role: "user", content: "Weather in Paris?" }],
      });
      const tool = r.content.find((b) => b.type === "tool_use");
      return { responseId: r.id, toolCallId: tool?.type === "tool_use" ? tool.id : "" };
    },
  },
  {
    name: "anthropic messages, streaming, with thinking and a tool call",
    provider: "anthropic",
    model: "claude-sonnet-4-6",
    prompt: "Weather in Paris?",
    tool: true,
    thought: THINKING_TEXT,
    tokens: ANTHROPIC_TOKENS,
    run: async () => {
      const stream = anthropic.messages.stream({
        model: "claude-sonnet-4-6",
        max_tokens: 2048,
        thinking: { type: "enabled", budget_tokens: 1024 },
        tools: [{ name: weatherTool.name, description: weatherTool.description, input_schema: { type: "object", properties: { location: { type: "string" } } } }],
        messages: [{ role: "user", content: [{ type: "text", text: "Weather in Paris?" }] }],
      });
      const message = await stream.finalMessage();
      const tool = message.content.find((b) => b.type === "tool_use");
      assert.deepEqual(tool?.type === "tool_use" ? tool.input : undefined, { location: "Paris" });
      // The SDK sums nothing: its final usage is what the stream reported, counted once.
      assert.equal(message.usage.cache_read_input_tokens, 80);
      return { responseId: message.id, toolCallId: tool?.type === "tool_use" ? tool.id : "" };
    },
  },
  {
    name: "anthropic messages, streaming, text only",
    provider: "anthropic",
    model: "claude-haiku-4-5",
    prompt: "hello",
    tool: false,
    tokens: ANTHROPIC_TOKENS,
    run: async () => {
      const stream = await anthropic.messages.create({ model: "claude-haiku-4-5", max_tokens: 64, stream: true, messages: [{ role: "user", content: "hello" }] });
      let responseId = "";
      for await (const event of stream) if (event.type === "message_start") responseId = event.message.id;
      return { responseId };
    },
  },
];

describe("recorded rows", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const ended = h.cp.ended.length;
      const seen = await c.run();
      await waitForEnded(h, ended + 1);
      const interception = h.cp.interceptions.at(-1);
      assert.ok(interception !== undefined);
      const rows = h.cp.recordsOf(interception.id);

      assert.equal(interception.initiatorId, h.user.ownerId);
      assert.equal(interception.apiKeyId, h.user.apiKeyId);
      assert.equal(interception.provider, c.provider);
      assert.equal(interception.providerName, c.provider);
      assert.equal(interception.model, c.model);
      assert.equal(interception.credentialKind, "centralized");
      assert.equal(interception.client, "Unknown");
      assert.match(interception.userAgent, c.provider === "openai" ? /^OpenAI\/JS/ : /^Anthropic\/JS/);
      assert.equal(interception.correlatingToolCallId, undefined);
      assert.deepEqual(fromMetadata(interception.metadata), { username: h.user.username });
      assert.ok(interception.startedAt !== undefined);

      assert.deepEqual(
        rows.prompts.map((p) => ({ prompt: p.prompt, msgId: p.msgId })),
        [{ prompt: c.prompt, msgId: seen.responseId }],
      );
      assert.deepEqual(
        rows.tokenUsages.map((t) => ({
          msgId: t.msgId,
          input: t.inputTokens,
          output: t.outputTokens,
          cacheRead: t.cacheReadInputTokens,
          cacheWrite: t.cacheWriteInputTokens,
        })),
        [{ msgId: seen.responseId, ...c.tokens }],
      );
      assert.deepEqual(
        rows.toolUsages.map((t) => ({ tool: t.tool, input: t.input, injected: t.injected, toolCallId: t.toolCallId, itemId: t.itemId, msgId: t.msgId, serverUrl: t.serverUrl })),
        c.tool
          ? [{ tool: "get_weather", input: '{"location":"Paris"}', injected: false, toolCallId: seen.toolCallId, itemId: seen.itemId ?? "", msgId: seen.responseId, serverUrl: undefined }]
          : [],
      );
      assert.ok(!c.tool || (seen.toolCallId ?? "") !== "", "the client saw a tool call id");
      assert.deepEqual(
        rows.thoughts.map((t) => t.content),
        c.thought === undefined ? [] : [c.thought],
      );
      assert.equal(rows.ended.length, 1);
      assert.equal(rows.ended[0]?.errorType, undefined);
      assert.equal(rows.ended[0]?.errorMessage, undefined);
      assert.equal(rows.ended[0]?.credentialHint, interception.credentialHint);
    });
  }

  it("records OpenAI token extras as metadata", () => {
    const chat = h.cp.tokenUsages.find((t) => t.msgId.startsWith("chatcmpl-"));
    assert.deepEqual(fromMetadata(chat?.metadata ?? {}), {
      prompt_audio: 0,
      prompt_cached: 80,
      completion_accepted_prediction: 0,
      completion_rejected_prediction: 0,
      completion_audio: 0,
      completion_reasoning: 0,
    });
  });

  it("records Anthropic cache extras as metadata", () => {
    const msg = h.cp.tokenUsages.find((t) => t.msgId.startsWith("msg_"));
    assert.deepEqual(fromMetadata(msg?.metadata ?? {}), { cache_creation_input: 40, cache_read_input: 80 });
  });
});

describe("interception details", () => {
  it("detects Claude Code and its session id, and records the correlating tool call id", async () => {
    const ended = h.cp.ended.length;
    const res = await send(`${h.gateway.url}/anthropic/v1/messages`, {
      headers: {
        "x-api-key": h.user.key,
        "user-agent": "claude-cli/2.0.14 (external, cli)",
        "x-claude-code-session-id": "session-7",
        "anthropic-version": "2023-06-01",
      },
      body: {
        model: "claude-sonnet-4-6",
        max_tokens: 64,
        messages: [
          { role: "user", content: "Weather?" },
          { role: "assistant", content: [{ type: "tool_use", id: "toolu_prev", name: "get_weather", input: { location: "Paris" } }] },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_prev", content: "sunny" }] },
        ],
      },
    });
    assert.equal(res.status, 200);
    await waitForEnded(h, ended + 1);
    const interception = h.cp.interceptions.at(-1);
    assert.equal(interception?.client, "Claude Code");
    assert.equal(interception?.clientSessionId, "session-7");
    assert.equal(interception?.userAgent, "claude-cli/2.0.14 (external, cli)");
    assert.equal(interception?.correlatingToolCallId, "toolu_prev");
    // The last message is a tool result, not a prompt: no prompt row.
    assert.equal(h.cp.recordsOf(interception?.id ?? "").prompts.length, 0);
  });

  const errorCases = [
    { name: "openai", path: "/openai/v1/chat/completions", body: { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] } },
    { name: "openai streaming", path: "/openai/v1/chat/completions", body: { model: "gpt-4o", stream: true, messages: [{ role: "user", content: "hi" }] } },
    { name: "anthropic", path: "/anthropic/v1/messages", body: { model: "claude-sonnet-4-6", max_tokens: 8, messages: [{ role: "user", content: "hi" }] } },
  ];
  for (const c of errorCases) {
    it(`passes an upstream HTTP error through unchanged and ends with upstream_error (${c.name})`, async () => {
      const ended = h.cp.ended.length;
      const res = await send(`${h.gateway.url}${c.path}`, { headers: { authorization: `Bearer ${h.user.key}`, "x-emulator-status": "429" }, body: c.body });
      const direct = await send(`${h.emulator.url}${c.path}`, { headers: { authorization: "Bearer direct", "x-emulator-status": "429" }, body: c.body });
      assert.equal(res.status, 429);
      assert.equal(res.text, direct.text);
      assert.equal(res.headers.get("content-type"), direct.headers.get("content-type"));
      await waitForEnded(h, ended + 1);
      const rows = h.cp.recordsOf(h.cp.interceptions.at(-1)?.id ?? "");
      assert.equal(rows.ended[0]?.errorType, "upstream_error");
      assert.equal(rows.ended[0]?.errorMessage, direct.text);
      assert.equal(rows.tokenUsages.length, 0);
      assert.equal(rows.prompts.length, 1);
    });
  }

  it("surfaces the error to the SDK like the provider would", async () => {
    await assert.rejects(
      openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }, { headers: { "x-emulator-status": "500" } }),
      (err: unknown) => err instanceof OpenAI.APIError && err.status === 500,
    );
    await assert.rejects(
      anthropic.messages.create({ model: "claude-sonnet-4-6", max_tokens: 8, messages: [{ role: "user", content: "hi" }] }, { headers: { "x-emulator-status": "529" } }),
      (err: unknown) => err instanceof Anthropic.APIError && err.status === 529,
    );
  });
});
