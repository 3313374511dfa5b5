// `weir gateway --rate-limit`, `--max-concurrency` and `--circuit-breaker` as operators run them,
// seen by the official SDKs: a refused request is the SDK's own RateLimitError /
// InternalServerError with the gateway's message, and the SDKs' retries (which honour
// Retry-After) get through once there is room.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { eventually, runWeir, startStack, type Replica, type Stack } from "./stack.js";

let stack: Stack;
let limited: Replica;
let narrow: Replica;
let breaking: Replica;

before(async () => {
  stack = await startStack({ replicas: 0 });
  limited = await stack.startReplica(["--rate-limit", "1"]);
  narrow = await stack.startReplica(["--max-concurrency", "1"]);
  breaking = await stack.startReplica(["--circuit-breaker", "--circuit-breaker-failure-threshold", "2", "--circuit-breaker-timeout", "1s", "--circuit-breaker-max-requests", "1"]);
});
after(async () => {
  await stack?.stop();
});

const CHAT = { model: "gpt-4o", messages: [{ role: "user" as const, content: "hi" }] };

describe("weir gateway overload protection", () => {
  it("--rate-limit: the OpenAI SDK gets RateLimitError, and with retries waits out Retry-After and succeeds", async () => {
    const once = new OpenAI({ apiKey: stack.user.apiKey, baseURL: `${limited.url}/openai/v1`, maxRetries: 0 });
    const patient = new OpenAI({ apiKey: stack.user.apiKey, baseURL: `${limited.url}/openai/v1`, maxRetries: 3 });
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5)); // a fresh window
    await once.chat.completions.create(CHAT);
    const err = await once.chat.completions.create(CHAT).then(
      () => assert.fail("the second request in one second must be refused"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof OpenAI.RateLimitError, String(err));
    assert.equal(err.status, 429);
    assert.equal(err.headers?.get("retry-after"), "1");
    assert.equal(err.message, "429 rate limit exceeded: At most 1 requests per second per API key; retry after 1 s.");
    const retried = await patient.chat.completions.create(CHAT);
    assert.equal(retried.object, "chat.completion");
  });

  it("--max-concurrency: the Anthropic SDK gets a 503 while the replica is full, and is served once it is not", async () => {
    const anthropic = new Anthropic({ apiKey: stack.user.apiKey, baseURL: `${narrow.url}/anthropic`, maxRetries: 0 });
    const body = { model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user" as const, content: "hi" }] };
    const holding = anthropic.messages.create(body, { headers: { "x-emulator-ttfb-ms": "1500" } });
    const before = stack.emulator.requests.length;
    for (let i = 0; i < 200 && stack.emulator.requests.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    const err = await anthropic.messages.create(body).then(
      () => assert.fail("a second request while one is in flight must be refused"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof Anthropic.InternalServerError, String(err));
    assert.equal(err.status, 503);
    assert.deepEqual((err.error as { error?: unknown }).error, { type: "api_error", message: "AI Gateway is currently at capacity. Please try again later." });
    assert.equal((await holding).type, "message");
    assert.equal((await anthropic.messages.create(body)).type, "message");
    const metrics = await (await fetch(`${narrow.url}/metrics`)).text();
    assert.match(metrics, /^weir_gateway_requests_refused_total\{reason="at_capacity"\} 1$/m);
  });

  it("--circuit-breaker: after two 503s in a row the OpenAI SDK gets 'circuit breaker is open' at once, recorded; a second later the provider is tried again", async () => {
    const openai = new OpenAI({ apiKey: stack.user.apiKey, baseURL: `${breaking.url}/openai/v1`, maxRetries: 0 });
    const failing = { headers: { "x-emulator-status": "503" } };
    for (let i = 0; i < 2; i++) {
      const err = await openai.chat.completions.create(CHAT, failing).then(() => assert.fail("the provider answers 503"), (e: unknown) => e);
      assert.ok(err instanceof OpenAI.InternalServerError && err.status === 503, String(err));
    }
    const upstreamBefore = stack.emulator.requests.length;
    const err = await openai.chat.completions.create(CHAT).then(() => assert.fail("the circuit is open"), (e: unknown) => e);
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.status, 503);
    assert.equal(err.message, "503 circuit breaker is open");
    assert.equal(err.code, "service_unavailable");
    assert.equal(err.headers?.get("retry-after"), "1");
    assert.equal(stack.emulator.requests.length, upstreamBefore);
    const id = err.headers?.get("x-weir-interception-id");
    const recorded = await eventually("the refused interception, ended", async () => {
      const res = await stack.admin.request("GET", `/api/v2/ai-gateway/interceptions/${id}`);
      return res.status === 200 && res.body.ended_at !== null ? res.body : undefined;
    });
    assert.deepEqual([recorded.error_type, recorded.error_message], ["upstream_error", "circuit breaker is open: the provider failed too often; not called"]);
    const metrics = await (await fetch(`${breaking.url}/metrics`)).text();
    assert.match(metrics, /^weir_gateway_circuit_breaker_state\{provider="openai",endpoint="\/openai\/v1\/chat\/completions",model="gpt-4o"\} 1$/m);

    await new Promise((r) => setTimeout(r, 1_100));
    assert.equal((await openai.chat.completions.create(CHAT)).object, "chat.completion");
  });

  it("refuses a limit that is not a whole number before starting", async () => {
    const weir = runWeir(["gateway", "--listen", "127.0.0.1:0", "--max-concurrency", "-1"], { WEIR_CONTROL_PLANE_URL: stack.controlPlane.url, WEIR_GATEWAY_KEY: stack.gatewayKey.key });
    assert.equal((await weir.exited).code, 1);
    assert.match(weir.output(), /--max-concurrency must be a whole number \(0: no limit\), got "-1"/);
    const breaker = runWeir(["gateway", "--listen", "127.0.0.1:0", "--circuit-breaker", "--circuit-breaker-max-requests", "0"], {
      WEIR_CONTROL_PLANE_URL: stack.controlPlane.url,
      WEIR_GATEWAY_KEY: stack.gatewayKey.key,
    });
    assert.equal((await breaker.exited).code, 1);
    assert.match(breaker.output(), /--circuit-breaker-max-requests must be a positive whole number, got "0"/);
  });
});
