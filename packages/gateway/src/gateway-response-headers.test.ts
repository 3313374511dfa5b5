// Which provider response headers the official SDKs receive through the gateway, against a
// provider stand-in that sends every header the gateway must drop beside ordinary ones: cookies,
// HSTS, Alt-Svc, NEL and Report-To never arrive; the provider account ids arrive in BYOK only
// (with the central key they are the operator's); request ids and rate-limit headers always do —
// on answers, relayed errors and passthrough routes alike.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { startHarness } from "./test-harness.js";
import { chatCompletion } from "./testing/index.js";
import type { Harness } from "./test-harness.js";

const ORIGIN_HEADERS = {
  "set-cookie": ["__cf_bm=abc123; path=/; domain=.api.openai.com; HttpOnly; Secure", "_cfuvid=def456; path=/"],
  "set-cookie2": "legacy=1",
  "strict-transport-security": "max-age=31536000; includeSubDomains; preload",
  "alt-svc": 'h3=":443"; ma=86400',
  nel: '{"success_fraction":0,"report_to":"cf-nel","max_age":604800}',
  "report-to": '{"endpoints":[{"url":"https://a.nel.cloudflare.com/report/v4"}],"group":"cf-nel","max_age":604800}',
};
const ACCOUNT_HEADERS = {
  "openai-organization": "org-operator123",
  "openai-project": "proj_operator456",
  "anthropic-organization-id": "0f3a9c2e-operator",
};
const ORDINARY_HEADERS = {
  "x-request-id": "req_upstream_1",
  "openai-processing-ms": "42",
  "anthropic-ratelimit-requests-remaining": "99",
};
const DROPPED_ALWAYS = Object.keys(ORIGIN_HEADERS);

const COMPLETION = chatCompletion({ id: "chatcmpl-headers", content: "hello", promptTokens: 3, completionTokens: 1 });
const MESSAGE = {
  id: "msg_headers",
  type: "message",
  role: "assistant",
  model: "claude-sonnet-4-6",
  content: [{ type: "text", text: "hello" }],
  stop_reason: "end_turn",
  stop_sequence: null,
  usage: { input_tokens: 3, output_tokens: 1 },
};
const MODELS = { object: "list", data: [{ id: "gpt-4o", object: "model", created: 0, owned_by: "openai" }] };
const RATE_LIMITED = { error: { message: "slow down", type: "rate_limit_error", param: null, code: null } };

const CHAT_STREAM = [
  { id: "chatcmpl-headers", object: "chat.completion.chunk", created: 0, model: "gpt-4o", choices: [{ index: 0, delta: { role: "assistant", content: "hello" }, finish_reason: null }] },
  { id: "chatcmpl-headers", object: "chat.completion.chunk", created: 0, model: "gpt-4o", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
  { id: "chatcmpl-headers", object: "chat.completion.chunk", created: 0, model: "gpt-4o", choices: [], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } },
]
  .map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`)
  .concat("data: [DONE]\n\n")
  .join("");
const MESSAGE_STREAM = [
  ["message_start", { type: "message_start", message: { ...MESSAGE, content: [], stop_reason: null } }],
  ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }],
  ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "hello" } }],
  ["content_block_stop", { type: "content_block_stop", index: 0 }],
  ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 1 } }],
  ["message_stop", { type: "message_stop" }],
]
  .map(([event, data]) => `event: ${String(event)}\ndata: ${JSON.stringify(data)}\n\n`)
  .join("");

/** The next answer's status; 200 unless a test asks for the 429. */
let nextStatus = 200;
let upstream: Server;
let origin: string;

before(async () => {
  upstream = createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (text += chunk));
    req.on("end", () => {
      const status = nextStatus;
      nextStatus = 200;
      if (status === 200 && text.includes('"stream":true')) {
        res.writeHead(200, { "content-type": "text/event-stream", ...ORIGIN_HEADERS, ...ACCOUNT_HEADERS, ...ORDINARY_HEADERS });
        res.end(req.url === "/v1/messages" ? MESSAGE_STREAM : CHAT_STREAM);
        return;
      }
      const body = status !== 200 ? RATE_LIMITED : req.url === "/v1/messages" ? MESSAGE : req.url === "/v1/models" ? MODELS : COMPLETION;
      res.writeHead(status, { "content-type": "application/json", ...ORIGIN_HEADERS, ...ACCOUNT_HEADERS, ...ORDINARY_HEADERS });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
after(() => new Promise((r) => upstream.close(r)));

/** Every origin header absent, the ordinary ones as sent, the account ids present only when `accountIdsExpected`. */
function assertFiltered(headers: Headers, accountIdsExpected: boolean): void {
  for (const name of DROPPED_ALWAYS) assert.equal(headers.get(name), null, name);
  for (const [name, value] of Object.entries(ORDINARY_HEADERS)) assert.equal(headers.get(name), value, name);
  for (const [name, value] of Object.entries(ACCOUNT_HEADERS)) assert.equal(headers.get(name), accountIdsExpected ? value : null, name);
}

const CHAT = { model: "gpt-4o", messages: [{ role: "user" as const, content: "hi" }] };
const MESSAGES = { model: "claude-sonnet-4-6", max_tokens: 64, messages: [{ role: "user" as const, content: "hi" }] };

describe("provider response headers through the gateway", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      gateway: {
        allowByok: true,
        openai: { baseUrl: `${origin}/v1`, apiKey: "sk-central-headers-000000000001" },
        anthropic: { baseUrl: origin, apiKey: "sk-ant-central-headers-0000000002" },
      },
    });
  });
  after(() => h.close());

  const centralOpenai = () => new OpenAI({ baseURL: `${h.gateway.url}/openai/v1`, apiKey: h.user.key, maxRetries: 0 });
  const centralAnthropic = () => new Anthropic({ baseURL: `${h.gateway.url}/anthropic`, apiKey: h.user.key, maxRetries: 0 });
  const byokOpenai = () =>
    new OpenAI({ baseURL: `${h.gateway.url}/openai/v1`, apiKey: "sk-user-own-openai-key-1234", defaultHeaders: { "x-ai-governance-token": h.user.key }, maxRetries: 0 });
  const byokAnthropic = () =>
    new Anthropic({ baseURL: `${h.gateway.url}/anthropic`, apiKey: "sk-ant-user-own-key-5678", defaultHeaders: { "x-ai-governance-token": h.user.key }, maxRetries: 0 });

  it("centralized OpenAI chat: origin headers and the operator's account ids are dropped", async () => {
    const { data, response } = await centralOpenai().chat.completions.create(CHAT).withResponse();
    assert.equal(data.id, "chatcmpl-headers");
    assertFiltered(response.headers, false);
  });

  it("centralized Anthropic messages: origin headers and the operator's account ids are dropped", async () => {
    const { data, response } = await centralAnthropic().messages.create(MESSAGES).withResponse();
    assert.equal(data.id, "msg_headers");
    assertFiltered(response.headers, false);
  });

  it("BYOK OpenAI chat: origin headers dropped, the user's own account ids pass", async () => {
    const { data, response } = await byokOpenai().chat.completions.create(CHAT).withResponse();
    assert.equal(data.id, "chatcmpl-headers");
    assertFiltered(response.headers, true);
  });

  it("BYOK Anthropic messages: origin headers dropped, the user's own account ids pass", async () => {
    const { data, response } = await byokAnthropic().messages.create(MESSAGES).withResponse();
    assert.equal(data.id, "msg_headers");
    assertFiltered(response.headers, true);
  });

  it("BYOK with no provider credential of its own is served with the central key: account ids dropped", async () => {
    // The governance token alone: the SDK's own key is the Weir key again, so the central key is used.
    const client = new OpenAI({ baseURL: `${h.gateway.url}/openai/v1`, apiKey: h.user.key, defaultHeaders: { "x-ai-governance-token": h.user.key }, maxRetries: 0 });
    const { response } = await client.chat.completions.create(CHAT).withResponse();
    assertFiltered(response.headers, false);
  });

  it("streamed answers are filtered the same way: centralized OpenAI chat, BYOK Anthropic messages", async () => {
    const chat = await centralOpenai().chat.completions.create({ ...CHAT, stream: true }).withResponse();
    assertFiltered(chat.response.headers, false);
    let text = "";
    for await (const chunk of chat.data) text += chunk.choices[0]?.delta.content ?? "";
    assert.equal(text, "hello");

    const messages = await byokAnthropic().messages.create({ ...MESSAGES, stream: true }).withResponse();
    assertFiltered(messages.response.headers, true);
    const types: string[] = [];
    for await (const event of messages.data) types.push(event.type);
    assert.deepEqual(types, ["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
  });

  it("a relayed 429 is filtered the same way (centralized)", async () => {
    nextStatus = 429;
    const err = await centralOpenai().chat.completions.create(CHAT).then(
      () => assert.fail("expected the 429"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof OpenAI.APIError);
    assert.equal(err.status, 429);
    assert.equal(err.message, "429 slow down");
    assertFiltered(err.headers as Headers, false);
  });

  it("a relayed 429 is filtered the same way (BYOK, Anthropic)", async () => {
    nextStatus = 429;
    const err = await byokAnthropic().messages.create(MESSAGES).then(
      () => assert.fail("expected the 429"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof Anthropic.APIError);
    assert.equal(err.status, 429);
    assertFiltered(err.headers as Headers, true);
  });

  it("passthrough GET /openai/v1/models: centralized drops the account ids, BYOK keeps them", async () => {
    const central = await centralOpenai().models.list().asResponse();
    assert.equal(central.status, 200);
    assert.deepEqual(await central.json(), MODELS);
    assertFiltered(central.headers, false);

    const own = await byokOpenai().models.list().asResponse();
    assert.equal(own.status, 200);
    assertFiltered(own.headers, true);
  });
});
