// --circuit-breaker through real HTTP (reference §10): a model whose provider keeps answering
// 503/504/529, or cannot be reached, gets 503 "circuit breaker is open" at once, in the
// provider's error shape with Retry-After, without an upstream call; other models and routes are
// not affected; after the timeout a trial request goes through and a success closes the circuit.
// Refused requests are still recorded as failed interceptions, as the reference records them.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { metricValue, send, startHarness } from "./test-harness.js";
import type { Harness } from "./test-harness.js";
import type { Clock } from "./clock.js";

const CHAT = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] };
const MESSAGES = { model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: "hi" }] };
const OPEN_OPENAI = { error: { message: "circuit breaker is open", type: "server_error", param: null, code: "service_unavailable" } };
const OPEN_ANTHROPIC = { type: "error", error: { type: "overloaded_error", message: "circuit breaker is open" } };
const CIRCUIT = { enabled: true, failureThreshold: 2, intervalMs: 0, timeoutMs: 30_000, maxRequests: 1 };

/**
 * Real time that a test can move on at once (timers still run in real time): a 30 s open period
 * ends when the test says so, not when a loaded machine lets 400 ms pass between two assertions
 * (which then read the circuit half-open where the test expected it open).
 */
class SteppedClock implements Clock {
  private offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    return globalThis.setTimeout(fn, ms);
  }
  clearTimeout(handle: unknown): void {
    globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>);
  }
}
const clock = new SteppedClock();

describe("--circuit-breaker", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ gateway: { circuitBreaker: CIRCUIT, clock } });
  });
  after(() => h.close());

  const chat = (body: object, headers: Record<string, string> = {}) =>
    send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${h.user.key}`, ...headers }, body });
  const messages = (headers: Record<string, string> = {}) =>
    send(`${h.gateway.url}/anthropic/v1/messages`, { headers: { "x-api-key": h.user.key, ...headers }, body: MESSAGES });
  const labels = { provider: "openai", endpoint: "/openai/v1/chat/completions", model: "gpt-4o" };

  it("opens after failures in a row, refuses without calling the provider, and closes after a successful trial", async () => {
    assert.deepEqual([(await chat(CHAT, { "x-emulator-status": "503" })).status, (await chat(CHAT, { "x-emulator-status": "504" })).status], [503, 504]);
    const upstreamBefore = h.emulator.requests.length;

    const refused = await chat(CHAT);
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.json, OPEN_OPENAI);
    // The rest of the 30 s open period, in whole seconds (a slow machine may have used one or two).
    const retryAfter = Number(refused.headers.get("retry-after"));
    assert.ok(retryAfter >= 28 && retryAfter <= 30, `retry-after ${retryAfter}`);
    const id = refused.headers.get("x-weir-interception-id");
    assert.ok(id);
    assert.equal(h.emulator.requests.length, upstreamBefore, "no upstream call while open");
    // Another model on the route has its own circuit.
    assert.equal((await chat({ ...CHAT, model: "gpt-4o-mini" })).status, 200);
    assert.equal(await metricValue(h.gateway.metrics.circuitBreakerState, labels), 1);
    assert.equal(await metricValue(h.gateway.metrics.circuitBreakerTripsTotal, labels), 1);
    assert.equal(await metricValue(h.gateway.metrics.circuitBreakerRejectsTotal, labels), 1);
    // The refused request is an interception that failed, with the reason recorded.
    await h.cp.waitFor(() => h.cp.recordsOf(id).ended.length === 1, 5_000, "the refused interception ended");
    const ended = h.cp.recordsOf(id).ended[0]!;
    assert.equal(ended.errorType, "upstream_error");
    assert.equal(ended.errorMessage, "circuit breaker is open: the provider failed too often; not called");

    clock.advance(CIRCUIT.timeoutMs + 50);
    // Read between requests, the gauge is current: the open period is over.
    assert.equal(await metricValue(h.gateway.metrics.circuitBreakerState, labels), 0.5);
    const trial = await chat(CHAT);
    assert.equal(trial.status, 200);
    assert.equal(await metricValue(h.gateway.metrics.circuitBreakerState, labels), 0);
    assert.equal((await chat(CHAT)).status, 200);
    assert.ok(h.logs.some((l) => l.includes('"circuit breaker state change"') && l.includes('"to":"open"')));
  });

  it("opens on Anthropic's 529 with an overloaded_error, and a failed trial opens it again", async () => {
    for (let i = 0; i < 2; i++) assert.equal((await messages({ "x-emulator-status": "529" })).status, 529);
    const refused = await messages();
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.json, OPEN_ANTHROPIC);
    clock.advance(CIRCUIT.timeoutMs + 50);
    assert.equal((await messages({ "x-emulator-status": "503" })).status, 503);
    const again = await messages();
    assert.deepEqual([again.status, again.json], [503, OPEN_ANTHROPIC]);
    assert.equal(
      await metricValue(h.gateway.metrics.circuitBreakerTripsTotal, { provider: "anthropic", endpoint: "/anthropic/v1/messages", model: "claude-sonnet-4-5" }),
      2,
    );
  });

  it("does not count 429, 500 or client errors as failures", async () => {
    const model = { ...CHAT, model: "gpt-4.1" };
    for (const status of ["429", "500", "400", "429", "500"]) assert.equal((await chat(model, { "x-emulator-status": status })).status, Number(status));
    assert.equal((await chat(model)).status, 200);
  });
});

describe("--circuit-breaker with a provider that cannot be reached", () => {
  let h: Harness;
  before(async () => {
    // Port 1 refuses connections.
    h = await startHarness({ gateway: { circuitBreaker: CIRCUIT, anthropic: { baseUrl: "http://127.0.0.1:1", apiKey: "sk-ant-x" } } });
  });
  after(() => h.close());

  it("counts connection failures, and leaves the other provider alone", async () => {
    const messages = () => send(`${h.gateway.url}/anthropic/v1/messages`, { headers: { "x-api-key": h.user.key }, body: MESSAGES });
    assert.deepEqual([(await messages()).status, (await messages()).status], [502, 502]);
    const refused = await messages();
    assert.deepEqual([refused.status, refused.json], [503, OPEN_ANTHROPIC]);
    const chat = await send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${h.user.key}` }, body: CHAT });
    assert.equal(chat.status, 200);
  });
});

describe("without --circuit-breaker", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it("passes every request to the provider however often it fails", async () => {
    const chat = (headers: Record<string, string> = {}) =>
      send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${h.user.key}`, ...headers }, body: CHAT });
    for (let i = 0; i < 8; i++) assert.equal((await chat({ "x-emulator-status": "503" })).status, 503);
    const upstreamBefore = h.emulator.requests.length;
    assert.equal((await chat()).status, 200);
    assert.equal(h.emulator.requests.length, upstreamBefore + 1);
    assert.equal(await metricValue(h.gateway.metrics.circuitBreakerTripsTotal), 0);
  });
});
