// The official OpenAI and Anthropic SDK clients, pointed at two gateway replicas (separate
// processes sharing one gateway key), get exactly what the upstream said — and the control
// plane recorded exactly what the upstream reported: prompt, tokens (cache included), tool
// calls and thoughts. Bodies compressed the way agents send them (zstd, gzip) are decoded.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { ZSTD_CLI_SAMPLE, gatewayErrorBody, zstdRleFrame } from "@weir/gateway/testing";
import { DEFAULT_TEXT, REASONING_SUMMARY, THINKING_TEXT, TOOL_CALL_ARGUMENTS } from "@weir/llm-emulator";
import { recorded, startStack, type Stack } from "./stack.js";

let stack: Stack;
before(async () => {
  stack = await startStack({ replicas: 2 });
});
after(async () => {
  await stack?.stop();
});

const openai = (replica: number) => new OpenAI({ baseURL: `${stack.replicas[replica]!.url}/openai/v1`, apiKey: stack.user.apiKey, maxRetries: 0 });
const anthropic = (replica: number) => new Anthropic({ baseURL: `${stack.replicas[replica]!.url}/anthropic`, apiKey: stack.user.apiKey, maxRetries: 0 });

const weatherTool = {
  type: "function" as const,
  function: { name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] } },
};
const anthropicWeatherTool = { name: "get_weather", description: "Weather for a city", input_schema: { type: "object" as const, properties: { location: { type: "string" } }, required: ["location"] } };

const OPENAI_TOKENS = { input_tokens: 120, output_tokens: 35, cache_read_input_tokens: 80, cache_write_input_tokens: 0 };
const ANTHROPIC_TOKENS = { input_tokens: 120, output_tokens: 35, cache_read_input_tokens: 80, cache_write_input_tokens: 40 };

let seen = 0;
/** Waits for the next interception to be recorded in full and returns it. */
async function nextInterception(expect: { tools: number; thoughts: number }): Promise<any> {
  const want = ++seen;
  const list = await recorded(stack, (l) => {
    const newest = l[0];
    return (
      l.length === want &&
      newest?.ended_at !== null &&
      newest.token_usages.length === 1 &&
      newest.prompts.length === 1 &&
      newest.tool_usages.length === expect.tools &&
      newest.model_thoughts.length === expect.thoughts
    );
  });
  return list[0];
}

/** Ids the gateway made: UUID version 7, stamped with a millisecond within [fromMs, toMs]. */
function assertTimeOrderedIds(ids: readonly string[], fromMs: number, toMs: number): void {
  for (const id of ids) {
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, id);
    const ms = parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    assert.ok(ms >= fromMs && ms <= toMs, `${id} made at ${ms}, outside ${fromMs}..${toMs}`);
  }
}

function tokens(interception: any) {
  const { input_tokens, output_tokens, cache_read_input_tokens, cache_write_input_tokens } = interception.token_usages[0];
  return { input_tokens, output_tokens, cache_read_input_tokens, cache_write_input_tokens };
}

describe("OpenAI chat completions through two replicas", () => {
  it("blocking, with a tool call (replica 1)", async () => {
    const sentAt = Date.now();
    const res = await openai(0).chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Weather in Paris?" }], tools: [weatherTool] });
    const call = res.choices[0]!.message.tool_calls![0]!;
    assert.equal(call.type === "function" && call.function.name, "get_weather");
    assert.equal(call.type === "function" && call.function.arguments, TOOL_CALL_ARGUMENTS);
    const i = await nextInterception({ tools: 1, thoughts: 0 });
    // The follow-up records are made after the answer went out: bound them by their arrival.
    const recordedAt = Date.now();
    assert.equal(i.provider, "openai");
    assert.equal(i.model, "gpt-4o-mini");
    assert.equal(i.credential_kind, "centralized");
    assert.equal(i.error_type, null);
    assert.equal(i.prompts[0].prompt, "Weather in Paris?");
    assert.deepEqual(tokens(i), OPENAI_TOKENS);
    assert.equal(i.tool_usages[0].tool, "get_weather");
    assert.equal(i.tool_usages[0].input, TOOL_CALL_ARGUMENTS);
    assert.equal(i.tool_usages[0].provider_tool_call_id, call.id);
    assert.equal(i.tool_usages[0].injected, false);
    // Time-ordered ids keep the control plane's B-tree inserts at the right edge (uuid7.ts).
    assertTimeOrderedIds([i.id, i.prompts[0].id, i.token_usages[0].id, i.tool_usages[0].id], sentAt, recordedAt);
  });

  it("streaming (replica 2)", async () => {
    const stream = await openai(1).chat.completions.create({ model: "gpt-4o", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Say hello" }], stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    assert.equal(text, DEFAULT_TEXT);
    const i = await nextInterception({ tools: 0, thoughts: 0 });
    assert.equal(i.model, "gpt-4o");
    assert.equal(i.prompts[0].prompt, "Say hello");
    assert.deepEqual(tokens(i), OPENAI_TOKENS);
  });
});

describe("OpenAI Responses through two replicas", () => {
  it("blocking, with reasoning (replica 1)", async () => {
    const res = await openai(0).responses.create({ model: "o4-mini", input: "Think, then greet me", reasoning: { effort: "low", summary: "auto" } });
    assert.equal(res.output_text, DEFAULT_TEXT);
    const i = await nextInterception({ tools: 0, thoughts: 1 });
    assert.equal(i.model, "o4-mini");
    assert.equal(i.prompts[0].prompt, "Think, then greet me");
    assert.deepEqual(tokens(i), OPENAI_TOKENS);
    assert.equal(i.model_thoughts[0].content, REASONING_SUMMARY);
  });

  it("streaming, with a tool call (replica 2)", async () => {
    const stream = openai(1).responses.stream({
      model: "gpt-4.1",
      input: [{ role: "user", content: "Weather in Paris?" }],
      tools: [{ type: "function", name: "get_weather", parameters: weatherTool.function.parameters, strict: false }],
    });
    const final = await stream.finalResponse();
    const call = final.output.find((o) => o.type === "function_call");
    assert.ok(call && call.type === "function_call");
    assert.equal(call.arguments, TOOL_CALL_ARGUMENTS);
    const i = await nextInterception({ tools: 1, thoughts: 0 });
    assert.deepEqual(tokens(i), OPENAI_TOKENS);
    assert.equal(i.tool_usages[0].tool, "get_weather");
    assert.equal(i.tool_usages[0].input, TOOL_CALL_ARGUMENTS);
    assert.equal(i.tool_usages[0].provider_tool_call_id, call.call_id);
    assert.equal(i.tool_usages[0].provider_item_id, call.id);
  });
});

describe("Anthropic messages through two replicas, with tool use and thinking", () => {
  it("blocking (replica 1)", async () => {
    const res = await anthropic(0).messages.create({
      model: "claude-sonnet-4-5",
      max_tokens: 2048,
      thinking: { type: "enabled", budget_tokens: 1024 },
      tools: [anthropicWeatherTool],
      messages: [{ role: "user", content: "Weather in Paris?" }],
    });
    const thinking = res.content.find((b) => b.type === "thinking");
    const toolUse = res.content.find((b) => b.type === "tool_use");
    assert.ok(thinking?.type === "thinking" && toolUse?.type === "tool_use");
    assert.equal(thinking.thinking, THINKING_TEXT);
    assert.deepEqual(toolUse.input, JSON.parse(TOOL_CALL_ARGUMENTS));
    assert.deepEqual(res.usage.cache_read_input_tokens, 80);
    const i = await nextInterception({ tools: 1, thoughts: 1 });
    assert.equal(i.provider, "anthropic");
    assert.equal(i.prompts[0].prompt, "Weather in Paris?");
    assert.deepEqual(tokens(i), ANTHROPIC_TOKENS);
    assert.equal(i.tool_usages[0].tool, "get_weather");
    assert.deepEqual(JSON.parse(i.tool_usages[0].input), JSON.parse(TOOL_CALL_ARGUMENTS));
    assert.equal(i.tool_usages[0].provider_tool_call_id, toolUse.id);
    assert.equal(i.model_thoughts[0].content, THINKING_TEXT);
  });

  it("streaming (replica 2): cache read and write counted once", async () => {
    const stream = anthropic(1).messages.stream({
      model: "claude-opus-4-1",
      max_tokens: 2048,
      thinking: { type: "enabled", budget_tokens: 1024 },
      tools: [anthropicWeatherTool],
      messages: [{ role: "user", content: [{ type: "text", text: "Weather in Paris, streamed?" }] }],
    });
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, "tool_use");
    assert.equal(final.usage.cache_creation_input_tokens, 40);
    const i = await nextInterception({ tools: 1, thoughts: 1 });
    assert.equal(i.prompts[0].prompt, "Weather in Paris, streamed?");
    assert.deepEqual(tokens(i), ANTHROPIC_TOKENS);
    assert.deepEqual(JSON.parse(i.tool_usages[0].input), JSON.parse(TOOL_CALL_ARGUMENTS));
    assert.equal(i.model_thoughts[0].content, THINKING_TEXT);
  });
});

describe("what reached the upstream", () => {
  it("carried the central provider keys and never the user's key or a governance header", () => {
    assert.ok(stack.emulator.requests.length >= 6);
    for (const r of stack.emulator.requests) {
      const all = JSON.stringify(r.headers);
      assert.ok(!all.includes(stack.user.apiKey), `user key leaked upstream on ${r.path}`);
      assert.ok(!Object.keys(r.headers).some((h) => h.startsWith("x-ai-governance")), `governance header upstream on ${r.path}`);
      if (r.path.startsWith("/openai/")) assert.equal(r.headers.authorization, "Bearer sk-central-openai");
      else assert.equal(r.headers["x-api-key"], "sk-ant-central");
    }
  });
});

describe("bad request bodies through a replica", () => {
  it("malformed JSON and a JSON array each get 400 saying which, and reach no upstream", async () => {
    const upstreamBefore = stack.emulator.requests.length;
    const send = (body: string) =>
      fetch(`${stack.replicas[0]!.url}/openai/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${stack.user.apiKey}`, "content-type": "application/json" },
        body,
      });
    const malformed = await send('{"model": "gpt-4o-mini", "messages": [');
    assert.equal(malformed.status, 400);
    assert.deepEqual(await malformed.json(), gatewayErrorBody("openai", 400, "invalid request body", "the body is not valid JSON"));
    const array = await send("[1, 2]");
    assert.equal(array.status, 400);
    assert.deepEqual(await array.json(), gatewayErrorBody("openai", 400, "invalid request body", "the body must be a JSON object"));
    assert.equal(stack.emulator.requests.length, upstreamBefore);
  });
});

describe("compressed request bodies through a replica", () => {
  const post = (path: string, body: Buffer, encoding: string) =>
    fetch(`${stack.replicas[1]!.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.user.apiKey}`, "content-type": "application/json", "content-encoding": encoding },
      body,
    });

  it("a zstd Responses body (as Codex sends it) is decoded, recorded, and sent upstream as plain JSON", async () => {
    const res = await post("/openai/v1/responses", ZSTD_CLI_SAMPLE.compressed, "zstd");
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { output_text?: string; output: { content?: { text: string }[] }[] }).output[0]!.content![0]!.text, DEFAULT_TEXT);
    const upstream = stack.emulator.requests.at(-1)!;
    assert.equal(upstream.path, "/openai/v1/responses");
    assert.equal(upstream.body, ZSTD_CLI_SAMPLE.text);
    assert.equal(upstream.headers["content-encoding"], undefined);
    assert.equal(upstream.headers["content-length"], String(Buffer.byteLength(ZSTD_CLI_SAMPLE.text)));
    const i = await nextInterception({ tools: 0, thoughts: 0 });
    assert.equal(i.model, "gpt-4o-mini");
    assert.equal(i.prompts[0].prompt, JSON.parse(ZSTD_CLI_SAMPLE.text).input);
    assert.deepEqual(tokens(i), OPENAI_TOKENS);
  });

  it("a gzipped streaming chat body is decoded, rewritten for usage and streamed back", async () => {
    const body = { model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "Gzipped hello" }] };
    const res = await post("/openai/v1/chat/completions", gzipSync(JSON.stringify(body)), "gzip");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    const text = await res.text();
    assert.ok(text.trimEnd().endsWith("data: [DONE]"), text.slice(-200));
    const upstream = stack.emulator.requests.at(-1)!;
    assert.deepEqual(upstream.json, { ...body, stream_options: { include_usage: true } });
    assert.equal(upstream.headers["content-encoding"], undefined);
    const i = await nextInterception({ tools: 0, thoughts: 0 });
    assert.equal(i.prompts[0].prompt, "Gzipped hello");
    assert.deepEqual(tokens(i), OPENAI_TOKENS);
  });

  it("an unknown coding is 415, a bomb is 413, corrupt data is 400, and none reaches the upstream", async () => {
    const upstreamBefore = stack.emulator.requests.length;
    const plain = Buffer.from(JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] }));
    const unknown = await post("/openai/v1/chat/completions", plain, "compress");
    assert.equal(unknown.status, 415);
    assert.deepEqual(await unknown.json(), gatewayErrorBody("openai", 415, "unsupported content encoding", '"compress" is not supported; use gzip, deflate, br or zstd'));
    // 1 KiB of zstd that would decode to 40 MB, over the 32 MiB body limit.
    const bomb = await post("/anthropic/v1/messages", zstdRleFrame(40_000_000), "zstd");
    assert.equal(bomb.status, 413);
    assert.deepEqual(await bomb.json(), gatewayErrorBody("anthropic", 413, "request body too large", "The limit is 33554432 bytes."));
    const corrupt = await post("/openai/v1/chat/completions", plain, "gzip");
    assert.equal(corrupt.status, 400);
    assert.deepEqual(await corrupt.json(), gatewayErrorBody("openai", 400, "invalid request body", "the body is not valid gzip data"));
    assert.equal(stack.emulator.requests.length, upstreamBefore);
  });

  it("the official SDKs show the gateway's own errors, in each provider's error shape", async () => {
    const badKey = "abcdefghij-0123456789012345678901";
    const openaiClient = new OpenAI({ baseURL: `${stack.replicas[0]!.url}/openai/v1`, apiKey: badKey, maxRetries: 0 });
    const openaiErr = await openaiClient.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] }).then(
      () => assert.fail("expected a 403"),
      (err: unknown) => err,
    );
    assert.ok(openaiErr instanceof OpenAI.PermissionDeniedError);
    assert.equal(openaiErr.message, "403 unauthorized");
    assert.equal(openaiErr.type, "invalid_request_error");

    const anthropicClient = new Anthropic({ baseURL: `${stack.replicas[0]!.url}/anthropic`, apiKey: badKey, maxRetries: 0 });
    const anthropicErr = await anthropicClient.messages.create({ model: "claude-sonnet-4-5", max_tokens: 10, messages: [{ role: "user", content: "Hi" }] }).then(
      () => assert.fail("expected a 403"),
      (err: unknown) => err,
    );
    assert.ok(anthropicErr instanceof Anthropic.PermissionDeniedError);
    assert.equal(anthropicErr.message, "403 unauthorized");
    assert.deepEqual((anthropicErr.error as { error?: unknown }).error, { type: "permission_error", message: "unauthorized" });

    const missing = await openaiClient.embeddings.create({ model: "text-embedding-3-small", input: "x" }).then(
      () => assert.fail("expected a 404"),
      (err: unknown) => err,
    );
    assert.ok(missing instanceof OpenAI.NotFoundError);
    assert.equal(missing.message, "404 route not supported: POST /openai/v1/embeddings");
  });
});
