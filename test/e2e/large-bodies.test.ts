// Bodies above the parse thread's threshold (offThreadParseBytes, 1 MiB by default), as coding
// agents send a whole conversation each turn, sent by the official SDKs through a gateway
// process: each route, streamed and blocking, is answered and recorded exactly as a small body
// is, the upstream gets the client's bytes (a forced chat stream usage merged in), and a large
// malformed body is refused with the same 400 as a small one.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { gatewayErrorBody } from "@weir/gateway/testing";
import { DEFAULT_TEXT } from "@weir/llm-emulator";
import { recorded, startStack, type Stack } from "./stack.js";

let stack: Stack;
before(async () => {
  stack = await startStack({ replicas: 1 });
});
after(async () => {
  await stack?.stop();
});

/** The request bodies the SDKs put on the wire, in order. */
const sentBodies: string[] = [];
const recordingFetch: typeof fetch = async (url, init) => {
  if (typeof init?.body === "string") sentBodies.push(init.body);
  return fetch(url, init);
};
const openai = () => new OpenAI({ baseURL: `${stack.replicas[0]!.url}/openai/v1`, apiKey: stack.user.apiKey, maxRetries: 0, fetch: recordingFetch });
const anthropic = () => new Anthropic({ baseURL: `${stack.replicas[0]!.url}/anthropic`, apiKey: stack.user.apiKey, maxRetries: 0, fetch: recordingFetch });

const LAST_PROMPT = "And now the last question — ✓ naïve 🌍?";
/** About 1.5 MiB of earlier turns, multi-byte characters included. */
const history = Array.from({ length: 100 }, (_, i) => ({ role: i % 2 === 0 ? ("user" as const) : ("assistant" as const), content: `turn ${i}: ${"ünïcödé text ".repeat(1200)}` }));

const OPENAI_TOKENS = { input_tokens: 120, output_tokens: 35, cache_read_input_tokens: 80, cache_write_input_tokens: 0 };
const ANTHROPIC_TOKENS = { input_tokens: 120, output_tokens: 35, cache_read_input_tokens: 80, cache_write_input_tokens: 40 };

let seen = 0;
/** Waits for the next interception to be recorded in full and returns it. */
async function nextInterception(): Promise<any> {
  const want = ++seen;
  const list = await recorded(stack, (l) => l.length === want && l[0]?.ended_at !== null && l[0].token_usages.length === 1 && l[0].prompts.length === 1);
  return list[0];
}

function tokens(interception: any) {
  const { input_tokens, output_tokens, cache_read_input_tokens, cache_write_input_tokens } = interception.token_usages[0];
  return { input_tokens, output_tokens, cache_read_input_tokens, cache_write_input_tokens };
}

/** The body the SDK sent, checked to be above the threshold, and the one the emulator received. */
function lastExchange(path: string): { sent: string; upstream: string } {
  const sent = sentBodies.at(-1)!;
  assert.ok(Buffer.byteLength(sent) > 1024 * 1024, `the body is ${Buffer.byteLength(sent)} bytes, below the threshold`);
  const upstream = stack.emulator.requests.at(-1)!;
  assert.equal(upstream.path, path);
  return { sent, upstream: upstream.body };
}

async function assertRecorded(model: string, want: typeof OPENAI_TOKENS): Promise<void> {
  const i = await nextInterception();
  assert.equal(i.model, model);
  assert.equal(i.error_type, null);
  assert.deepEqual(i.prompts.map((p: any) => p.prompt), [LAST_PROMPT]);
  assert.deepEqual(tokens(i), want);
}

describe("bodies above the parse thread's threshold", () => {
  it("chat, blocking: answered, recorded, sent upstream byte for byte", async () => {
    const res = await openai().chat.completions.create({ model: "gpt-4o-mini", messages: [...history, { role: "user", content: LAST_PROMPT }] });
    assert.equal(res.choices[0]!.message.content, DEFAULT_TEXT);
    const { sent, upstream } = lastExchange("/openai/v1/chat/completions");
    assert.equal(upstream, sent);
    await assertRecorded("gpt-4o-mini", OPENAI_TOKENS);
  });

  it("chat, streaming: the usage option merged into the client's bytes, hidden from the client", async () => {
    const stream = await openai().chat.completions.create({ model: "gpt-4o-mini", stream: true, messages: [...history, { role: "user", content: LAST_PROMPT }] });
    let text = "";
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]!.delta.content ?? "";
      assert.equal("usage" in chunk, false, "the client did not ask for usage");
    }
    assert.equal(text, DEFAULT_TEXT);
    assert.ok(chunks > 0);
    const { sent, upstream } = lastExchange("/openai/v1/chat/completions");
    assert.equal(upstream, `${sent.slice(0, -1)},"stream_options":{"include_usage":true}}`);
    await assertRecorded("gpt-4o-mini", OPENAI_TOKENS);
  });

  for (const stream of [false, true]) {
    it(`responses, ${stream ? "streaming" : "blocking"}: answered, recorded, sent upstream byte for byte`, async () => {
      const input = [...history, { role: "user" as const, content: LAST_PROMPT }];
      let text = "";
      if (stream) {
        for await (const event of await openai().responses.create({ model: "gpt-4o-mini", stream: true, input })) {
          if (event.type === "response.output_text.delta") text += event.delta;
        }
      } else {
        text = (await openai().responses.create({ model: "gpt-4o-mini", input })).output_text;
      }
      assert.equal(text, DEFAULT_TEXT);
      const { sent, upstream } = lastExchange("/openai/v1/responses");
      assert.equal(upstream, sent);
      await assertRecorded("gpt-4o-mini", OPENAI_TOKENS);
    });

    it(`anthropic messages, ${stream ? "streaming" : "blocking"}: answered, recorded, sent upstream byte for byte`, async () => {
      const params = { model: "claude-haiku-4-5", max_tokens: 64, messages: [...history, { role: "user" as const, content: LAST_PROMPT }] };
      let text = "";
      if (stream) {
        const message = await anthropic().messages.stream(params).finalMessage();
        text = message.content.map((b) => (b.type === "text" ? b.text : "")).join("");
      } else {
        const message = await anthropic().messages.create(params);
        text = message.content.map((b) => (b.type === "text" ? b.text : "")).join("");
      }
      assert.equal(text, DEFAULT_TEXT);
      const { sent, upstream } = lastExchange("/anthropic/v1/messages");
      assert.equal(upstream, sent);
      await assertRecorded("claude-haiku-4-5", ANTHROPIC_TOKENS);
    });
  }

  it("a large malformed or non-object body gets the same 400 as a small one, and nothing goes upstream", async () => {
    const upstreamBefore = stack.emulator.requests.length;
    const post = (path: string, body: string) =>
      fetch(`${stack.replicas[0]!.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${stack.user.apiKey}`, "x-api-key": stack.user.apiKey, "content-type": "application/json" }, body });
    const large = JSON.stringify({ model: "gpt-4o-mini", messages: history });
    assert.ok(large.length > 1024 * 1024);
    for (const [path, route] of [["/openai/v1/chat/completions", "openai"], ["/anthropic/v1/messages", "anthropic"]] as const) {
      for (const [small, big, detail] of [
        ['{"model":', large.slice(0, -2), "the body is not valid JSON"],
        ["[1]", `[${large}]`, "the body must be a JSON object"],
        ["[".repeat(513), `${"[".repeat(513)}${large}`, "the body nests deeper than 512 levels"],
      ] as const) {
        for (const body of [small, big]) {
          const res = await post(path, body);
          assert.equal(res.status, 400, `${path} ${detail} (${body.length} bytes)`);
          assert.deepEqual(await res.json(), gatewayErrorBody(route, 400, "invalid request body", detail));
        }
      }
    }
    assert.equal(stack.emulator.requests.length, upstreamBefore);
  });
});
