// inspectRequestOffThread: for every kind of body the gateway meets, the parse thread gives the
// same answer as the inline path (request-inspection.ts, then the API's parseRequest) — the
// same fields, the same rewritten bytes, the same errors — gives the body's bytes back whole,
// keeps the event loop turning while it works, and a stopped thread fails only what it held.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clientSessionBody } from "./client-detection.js";
import type { ClientSessionBody } from "./client-detection.js";
import { InvalidRequestBodyError, UnsupportedRequestError } from "./errors.js";
import { hideForcedUsage } from "./providers/forced-stream-usage.js";
import { PROVIDER_APIS } from "./providers/index.js";
import { inspectRequestOffThread, parseThreadJobsHeld, stopParseThread } from "./parse-thread.js";
import type { ParsedRequest } from "./providers/provider-api.js";
import { requestBodyObject, requestBodyText } from "./request-inspection.js";
import { turnsDuring } from "./testing/event-loop-turns.js";
import type { BridgedApi } from "./routes.js";

/** Everything either path answers, in comparable form. */
type Answer =
  | {
      readonly model: string;
      readonly stream: boolean;
      readonly prompt: string | undefined;
      readonly correlatingToolCallId: string | undefined;
      readonly rewrittenBody: string | undefined;
      readonly clientEvent: unknown;
      readonly clientSessionBody: ClientSessionBody;
    }
  | { readonly error: string; readonly message: string; readonly detail: string | undefined };

function refusal(err: unknown): Answer {
  if (err instanceof InvalidRequestBodyError) return { error: err.name, message: err.message, detail: err.detail };
  if (err instanceof UnsupportedRequestError) return { error: err.name, message: err.message, detail: err.detail };
  throw err;
}

/** What a test compares of a parsed request (a rewritten body as text, whichever type it came as). */
function answerOf(p: ParsedRequest, sessionBody: ClientSessionBody): Answer {
  return {
    model: p.model,
    stream: p.stream,
    prompt: p.prompt,
    correlatingToolCallId: p.correlatingToolCallId,
    rewrittenBody: p.rewrittenBody?.toString(),
    clientEvent: p.clientEvent,
    clientSessionBody: sessionBody,
  };
}

function inline(raw: Buffer, api: BridgedApi): Answer {
  try {
    const text = requestBodyText(raw);
    const body = requestBodyObject(text);
    return answerOf(PROVIDER_APIS[api].parseRequest(body, text), clientSessionBody(body));
  } catch (err) {
    return refusal(err);
  }
}

async function offThread(raw: Buffer, api: BridgedApi): Promise<Answer> {
  const sent = Buffer.from(raw); // the thread may take this one's memory
  try {
    const { parsed: p, raw: back, clientSessionBody: sessionBody } = await inspectRequestOffThread(sent, api);
    assert.ok(back.equals(raw), "the body's bytes come back whole");
    assert.ok(p.rewrittenBody === undefined || Buffer.isBuffer(p.rewrittenBody), "a rewritten body comes back as bytes");
    return answerOf(p, sessionBody);
  } catch (err) {
    return refusal(err);
  }
}

const json = (value: unknown): string => JSON.stringify(value);
const deep = (levels: number): string => `{"model":"m","x":${"[".repeat(levels)}${"]".repeat(levels)}}`;
const claudeUser = json({ device_id: "d", account_uuid: "a", session_id: "9f1c2d3e-0000-4000-8000-00000000abcd" });

const cases: readonly { readonly name: string; readonly api: BridgedApi; readonly body: string | Buffer }[] = [
  { name: "chat, blocking, user prompt", api: "openai-chat", body: json({ model: "gpt-4o", messages: [{ role: "system", content: "be brief" }, { role: "user", content: "héllo ✓ 🌍" }] }) },
  { name: "chat, streaming, usage forced", api: "openai-chat", body: '{ "model": "gpt-4o", "stream": true, "seed": 9007199254740993, "messages": [{"role":"user","content":"hi"}] }\n' },
  { name: "chat, streaming, own stream_options merged", api: "openai-chat", body: json({ model: "gpt-4o", stream: true, stream_options: { include_obfuscation: false }, messages: [{ role: "user", content: "hi" }] }) },
  { name: "chat, streaming, already asks for usage", api: "openai-chat", body: json({ model: "gpt-4o", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "hi" }] }) },
  { name: "chat, content parts", api: "openai-chat", body: json({ model: "gpt-4o", messages: [{ role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] }] }) },
  { name: "chat, tool result last", api: "openai-chat", body: json({ model: "gpt-4o", messages: [{ role: "user", content: "w?" }, { role: "assistant", tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }] }, { role: "tool", tool_call_id: "call_1", content: "sunny" }] }) },
  { name: "chat, missing model", api: "openai-chat", body: json({ messages: [{ role: "user", content: "hi" }] }) },
  { name: "responses, string input", api: "openai-responses", body: json({ model: "o4-mini", input: "Weather in Paris?" }) },
  { name: "responses, streaming, message input", api: "openai-responses", body: json({ model: "o4-mini", stream: true, input: [{ role: "user", content: [{ type: "input_text", text: "x" }, { type: "input_text", text: "y" }] }] }) },
  { name: "responses, function output last", api: "openai-responses", body: json({ model: "o4-mini", input: [{ type: "function_call_output", call_id: "call_9", output: "ok" }] }) },
  { name: "responses, background without stream", api: "openai-responses", body: json({ model: "o4-mini", background: true, input: "x" }) },
  { name: "anthropic, blocking", api: "anthropic-messages", body: json({ model: "claude-sonnet-4-6", max_tokens: 8, messages: [{ role: "user", content: "hello" }] }) },
  { name: "anthropic, streaming, tool result last", api: "anthropic-messages", body: json({ model: "claude-sonnet-4-6", stream: true, max_tokens: 8, messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "sunny" }] }] }) },
  { name: "anthropic, Claude Code session in metadata.user_id", api: "anthropic-messages", body: json({ model: "claude-sonnet-4-6", max_tokens: 8, metadata: { user_id: claudeUser }, messages: [{ role: "user", content: "hi" }] }) },
  { name: "anthropic, legacy Claude Code session", api: "anthropic-messages", body: json({ model: "claude-sonnet-4-6", max_tokens: 8, metadata: { user_id: "user_x_account_y_session_0b5e1f3c-1234-4abc-9def-0123456789ab" }, messages: [] }) },
  { name: "anthropic, missing model", api: "anthropic-messages", body: json({ max_tokens: 8, messages: [{ role: "user", content: "hi" }] }) },
  { name: "malformed JSON", api: "openai-chat", body: '{"model":"gpt-4o","messages":[' },
  { name: "empty body", api: "anthropic-messages", body: "" },
  { name: "JSON array", api: "openai-chat", body: "[1,2,3]" },
  { name: "JSON string", api: "openai-responses", body: '"just text"' },
  { name: "JSON null", api: "anthropic-messages", body: "null" },
  { name: "too deep", api: "openai-chat", body: deep(600) },
  { name: "as deep as allowed", api: "openai-chat", body: deep(511) },
  { name: "too many values", api: "openai-chat", body: `{"model":"m","x":[${"0,".repeat(1_000_001)}0]}` },
  { name: "invalid UTF-8 in a string", api: "openai-chat", body: Buffer.concat([Buffer.from('{"model":"m","messages":[{"role":"user","content":"a'), Buffer.from([0xff, 0xc3]), Buffer.from('"}]}')]) },
  { name: "large, 3 MiB of conversation", api: "openai-chat", body: json({ model: "gpt-4o", stream: true, messages: [...Array.from({ length: 200 }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: `${"ä".repeat(8000)}${i}` })), { role: "user", content: "last" }] }) },
];

describe("inspectRequestOffThread answers as the inline path", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const raw = Buffer.isBuffer(c.body) ? c.body : Buffer.from(c.body);
      assert.deepEqual(await offThread(raw, c.api), inline(raw, c.api));
    });
  }

  it("pins what the table compares (so both paths cannot agree on nothing)", async () => {
    const forced = await offThread(Buffer.from(cases[1]!.body), "openai-chat");
    assert.deepEqual(forced, {
      model: "gpt-4o",
      stream: true,
      prompt: "hi",
      correlatingToolCallId: undefined,
      rewrittenBody: '{ "model": "gpt-4o", "stream": true, "seed": 9007199254740993, "messages": [{"role":"user","content":"hi"}] ,"stream_options":{"include_usage":true}}\n',
      clientEvent: hideForcedUsage,
      clientSessionBody: {},
    });
    const claude = await offThread(Buffer.from(cases[13]!.body), "anthropic-messages");
    assert.deepEqual("clientSessionBody" in claude && claude.clientSessionBody, { metadata: { user_id: claudeUser } });
    assert.deepEqual(await offThread(Buffer.from("[1]"), "openai-chat"), { error: "InvalidRequestBodyError", message: "invalid request body: the body must be a JSON object", detail: "the body must be a JSON object" });
    assert.deepEqual(await offThread(Buffer.from("{"), "openai-chat"), { error: "InvalidRequestBodyError", message: "invalid request body: the body is not valid JSON", detail: "the body is not valid JSON" });
    assert.deepEqual(await offThread(Buffer.from(deep(600)), "openai-chat"), { error: "InvalidRequestBodyError", message: "invalid request body: the body nests deeper than 512 levels", detail: "the body nests deeper than 512 levels" });
  });

  it("hands a body that owns its memory to the thread and back, without copying it", async () => {
    // As a body read in chunks is (Buffer.concat gives it an ArrayBuffer of its own).
    const text = json({ model: "m", messages: [{ role: "user", content: "o".repeat(100_000) }] });
    const raw = Buffer.concat([Buffer.from(text.slice(0, 50_000)), Buffer.from(text.slice(50_000))]);
    const pending = inspectRequestOffThread(raw, "openai-chat");
    assert.equal(raw.length, 0, "handed over: the caller's Buffer reads as empty meanwhile");
    const back = await pending;
    assert.equal(back.raw.toString(), text);
    assert.equal(back.raw.buffer.byteLength, text.length, "the same memory, given back whole");
  });

  it("reads a view into a larger buffer as its own bytes only, and leaves that buffer alone", async () => {
    const text = `junk${json({ model: "m", messages: [{ role: "user", content: "inside" }] })}junk`;
    const whole = Buffer.from(text);
    const view = whole.subarray(4, whole.length - 4);
    const { parsed, raw } = await inspectRequestOffThread(view, "openai-chat");
    assert.equal(parsed.prompt, "inside");
    assert.ok(raw.equals(view));
    assert.equal(whole.toString(), text, "the larger buffer was copied from, not handed over");
  });

  it("parses while the event loop keeps turning, and concurrent bodies each get their own answer", async () => {
    const big = (i: number): Buffer => Buffer.from(json({ model: `m${i}`, messages: [...Array.from({ length: 130 }, () => ({ role: "user", content: "x".repeat(60_000) })), { role: "user", content: `p${i}` }] }));
    const { result: answers, turns } = await turnsDuring(Promise.all([0, 1, 2].map((i) => inspectRequestOffThread(big(i), "openai-chat"))));
    assert.deepEqual(answers.map((a) => [a.parsed.model, a.parsed.prompt]), [["m0", "p0"], ["m1", "p1"], ["m2", "p2"]]);
    assert.ok(turns > 0, "the event loop did not turn while parsing");
  });

  it("fails the bodies a stopped thread held with a plain Error (the gateway's fault), then starts a new thread", async () => {
    const body = Buffer.from(json({ model: "m", messages: Array.from({ length: 100 }, () => ({ role: "user", content: "y".repeat(15_000) })) }));
    const held = inspectRequestOffThread(body, "openai-chat").then(
      () => assert.fail("parsed after the thread stopped"),
      (e: unknown) => e as Error,
    );
    assert.equal(parseThreadJobsHeld(), 1);
    await stopParseThread();
    assert.equal(parseThreadJobsHeld(), 0);
    const err = await held;
    assert.equal(err.message, "the request parse thread stopped");
    assert.ok(!(err instanceof InvalidRequestBodyError) && !(err instanceof UnsupportedRequestError));
    assert.equal((await inspectRequestOffThread(Buffer.from('{"model":"after"}'), "openai-chat")).parsed.model, "after");
    await stopParseThread();
  });
});
