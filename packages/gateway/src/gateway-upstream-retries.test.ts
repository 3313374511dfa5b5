// --upstream-max-retries through real HTTP, against a provider stand-in that answers as each test
// scripts: a failure before the answer (a 503, a connection closed unanswered) is sent again and
// the client sees only the final answer, recorded as one interception; what the SDKs do not retry
// (x-should-retry: false) is not; used-up retries hand the last error on verbatim; a client that
// leaves during a wait ends it with no further upstream call; 0 retries changes nothing.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { IncomingHttpHeaders, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { metricValue, send, startHarness, waitForEnded } from "./test-harness.js";
import { chatCompletion } from "./testing/index.js";
import type { Harness } from "./test-harness.js";

const CHAT = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] };
const COMPLETION = chatCompletion({ id: "chatcmpl-retried", content: "hello", promptTokens: 7, completionTokens: 2 });
const OVERLOADED = { error: { message: "overloaded", type: "server_error", param: null, code: null } };

/** One scripted answer: a status with headers and a JSON body, an SSE stream, or a connection closed unanswered. */
type Answer = { status: number; headers?: Record<string, string>; json?: unknown; events?: string[] } | "destroy";

let script: Answer[] = [];
const received: IncomingHttpHeaders[] = [];
let upstream: Server;
let baseUrl: string;

before(async () => {
  upstream = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received.push(req.headers);
      const answer = script.shift() ?? { status: 200, json: COMPLETION };
      if (answer === "destroy") {
        req.socket.destroy();
        return;
      }
      if (answer.events !== undefined) {
        res.writeHead(answer.status, { "content-type": "text/event-stream", ...answer.headers });
        for (const event of answer.events) res.write(event);
        res.end();
        return;
      }
      res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
      res.end(JSON.stringify(answer.json ?? {}));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  baseUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
});
after(() => new Promise((r) => upstream.close(r)));
beforeEach(() => {
  received.length = 0;
  script = [];
});

/** A 503 asking for a 1 ms wait, so retries cost the tests no time. */
const unavailable = (headers: Record<string, string> = {}, json: unknown = OVERLOADED): Answer => ({ status: 503, headers: { "retry-after-ms": "1", ...headers }, json });

describe("--upstream-max-retries 2", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ gateway: { openai: { baseUrl, apiKey: "sk-retries-0000000000000001" }, upstreamMaxRetries: 2 } });
  });
  after(() => h.close());

  const chat = (body: object = CHAT) => send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${h.user.key}` }, body });

  it("answers 200 after a 503, with one interception recorded with the 200's usage", async () => {
    script = [unavailable()];
    const res = await chat();
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, COMPLETION);
    assert.equal(received.length, 2);
    const id = res.headers.get("x-weir-interception-id")!;
    await h.cp.waitFor(() => h.cp.recordsOf(id).ended.length === 1, 5_000, "the interception ended");
    const records = h.cp.recordsOf(id);
    assert.equal(h.cp.interceptions.filter((i) => i.id === id).length, 1);
    assert.equal(records.ended[0]?.errorType, undefined);
    assert.deepEqual(records.tokenUsages.map((u) => [u.inputTokens, u.outputTokens]), [[7n, 2n]]);
    assert.equal(await metricValue(h.gateway.metrics.upstreamRetriesTotal, { provider: "openai", endpoint: "/openai/v1/chat/completions", reason: "5xx" }), 1);
    const line = h.logs.map((l) => JSON.parse(l)).find((l) => l.msg === "upstream request failed; retrying" && l.interception_id === id);
    assert.deepEqual([line?.level, line?.attempt, line?.status, line?.delay_ms, line?.credential_hint], [30, 1, 503, 1, "sk-r...0001"]);
    assert.ok(h.logs.every((l) => !l.includes("sk-retries-0000000000000001")), "the provider key was logged");
  });

  it("sends again after a connection closed without an answer", async () => {
    script = ["destroy"];
    const res = await chat();
    assert.equal(res.status, 200, res.text);
    assert.equal(received.length, 2);
    assert.equal(await metricValue(h.gateway.metrics.upstreamRetriesTotal, { reason: "connection" }), 1);
  });

  it("does not retry an answer marked x-should-retry: false", async () => {
    script = [unavailable({ "x-should-retry": "false" })];
    const res = await chat();
    assert.equal(res.status, 503);
    assert.equal(received.length, 1);
  });

  it("hands the last upstream error on verbatim once the retries are used up", async () => {
    const last = { error: { message: "still overloaded (third)", type: "server_error", param: null, code: "x" } };
    script = [unavailable(), { status: 502, headers: { "retry-after-ms": "1" }, json: OVERLOADED }, unavailable({ "x-request-id": "req-last" }, last)];
    const res = await chat();
    assert.equal(received.length, 3);
    assert.equal(res.status, 503);
    assert.equal(res.text, JSON.stringify(last));
    assert.equal(res.headers.get("x-request-id"), "req-last");
    const id = res.headers.get("x-weir-interception-id")!;
    await h.cp.waitFor(() => h.cp.recordsOf(id).ended.length === 1, 5_000, "the interception ended");
    assert.equal(h.cp.recordsOf(id).ended[0]?.errorType, "upstream_error");
  });

  it("retries a streaming request before the stream's head, then relays the stream", async () => {
    const chunk = (delta: object, finish: string | null) =>
      `data: ${JSON.stringify({ id: "chatcmpl-s", object: "chat.completion.chunk", created: 1, model: "gpt-4o", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const usage = `data: ${JSON.stringify({ id: "chatcmpl-s", object: "chat.completion.chunk", created: 1, model: "gpt-4o", choices: [], usage: { prompt_tokens: 4, completion_tokens: 1, total_tokens: 5 } })}\n\n`;
    script = [unavailable(), { status: 200, events: [chunk({ role: "assistant", content: "streamed" }, null), chunk({}, "stop"), usage, "data: [DONE]\n\n"] }];
    const res = await chat({ ...CHAT, stream: true });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    assert.match(res.text, /"content":"streamed"/);
    assert.match(res.text, /data: \[DONE\]/);
    assert.equal(received.length, 2);
    const id = res.headers.get("x-weir-interception-id")!;
    await h.cp.waitFor(() => h.cp.recordsOf(id).ended.length === 1, 5_000, "the interception ended");
    assert.equal(h.cp.recordsOf(id).ended[0]?.errorType, undefined);
    assert.deepEqual(h.cp.recordsOf(id).tokenUsages.map((u) => [u.inputTokens, u.outputTokens]), [[4n, 1n]]);
  });

  it("ends the wait at once when the client disconnects: no further upstream call, the interception ends client_disconnected", async () => {
    // Without the wait ending early, the interception would end only after 30 s.
    script = [{ status: 503, headers: { "retry-after": "30" }, json: OVERLOADED }];
    const ended = h.cp.ended.length;
    const client = new AbortController();
    const pending = fetch(`${h.gateway.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.user.key}`, "content-type": "application/json" },
      body: JSON.stringify(CHAT),
      signal: client.signal,
    }).catch((err: unknown) => err);
    await h.cp.waitFor(() => h.logs.some((l) => l.includes('"upstream request failed; retrying"') && l.includes('"delay_ms":30000')), 5_000, "the retry's wait");
    client.abort();
    await pending;
    await waitForEnded(h, ended + 1);
    assert.equal(h.cp.ended.at(-1)?.errorType, "client_disconnected");
    assert.equal(received.length, 1);
  });
});

describe("--upstream-max-retries 0 (the default)", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ gateway: { openai: { baseUrl, apiKey: "sk-retries-0000000000000001" } } });
  });
  after(() => h.close());

  it("makes exactly one upstream call and hands its error on", async () => {
    script = [unavailable(), unavailable()];
    const res = await send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${h.user.key}` }, body: CHAT });
    assert.equal(res.status, 503);
    assert.deepEqual(res.json, OVERLOADED);
    assert.equal(received.length, 1);
    assert.equal(await metricValue(h.gateway.metrics.upstreamRetriesTotal), 0);
  });
});

describe("--upstream-max-retries during a shutdown", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ gateway: { openai: { baseUrl, apiKey: "sk-retries-0000000000000001" }, upstreamMaxRetries: 2, shutdownTimeoutMs: 10_000 } });
  });
  after(() => h.close());

  it("a request waiting to retry gets the provider's answer at once, and the shutdown does not wait for it", async () => {
    // Before, the wait held the shutdown until its deadline, and the client got a 502.
    const limited = { error: { message: "rate limited", type: "rate_limit_error", param: null, code: null } };
    script = [{ status: 429, headers: { "retry-after": "30" }, json: limited }];
    const pending = send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${h.user.key}` }, body: CHAT });
    await h.cp.waitFor(() => h.logs.some((l) => l.includes('"upstream request failed; retrying"') && l.includes('"delay_ms":30000')), 5_000, "the retry's wait");
    const shutdown = h.gateway.shutdown();
    const res = await pending;
    assert.equal(res.status, 429);
    assert.deepEqual(res.json, limited);
    assert.equal(res.headers.get("retry-after"), "30");
    await shutdown;
    assert.equal(received.length, 1);
    assert.equal(h.cp.ended.at(-1)?.errorType, "upstream_error");
  });
});
