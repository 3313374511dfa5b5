// Overload protection through real HTTP (reference §6 data-plane middleware): --max-concurrency
// answers 503 "at capacity" to LLM requests beyond the limit and --rate-limit 429 with
// Retry-After to a credential beyond its requests per second. Both refuse before any RPC or
// upstream call, in the provider's error envelope, and count the refusal.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { gatewayErrorBody } from "./testing/index.js";
import { makeUser, metricValue, send, startHarness } from "./test-harness.js";
import type { Harness } from "./test-harness.js";
import { Gateway, InvalidGatewayOptionsError } from "./index.js";

const CHAT = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] };
const MESSAGES = { model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: "hi" }] };

describe("--max-concurrency", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ gateway: { maxConcurrency: 2 } });
  });
  after(() => h.close());

  it("refuses an LLM request beyond the limit with 503 and serves again once one finished", async () => {
    const url = h.gateway.url;
    const auth = { authorization: `Bearer ${h.user.key}` };
    // Two requests the emulator holds for a while fill the gateway.
    const upstreamBefore = h.emulator.requests.length + 2;
    const slow = [0, 1].map(() => send(`${url}/openai/v1/chat/completions`, { headers: { ...auth, "x-emulator-ttfb-ms": "1500" }, body: CHAT }));
    await h.cp.waitFor(() => h.emulator.requests.length === upstreamBefore, 5_000, "two requests upstream");
    const authorizeBefore = h.cp.callsOf("IsAuthorized");

    const refused = await send(`${url}/openai/v1/chat/completions`, { headers: auth, body: CHAT });
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.json, gatewayErrorBody("openai", 503, "AI Gateway is currently at capacity. Please try again later."));
    const anthropic = await send(`${url}/anthropic/v1/messages`, { headers: { "x-api-key": h.user.key }, body: MESSAGES });
    assert.equal(anthropic.status, 503);
    assert.deepEqual(anthropic.json, gatewayErrorBody("anthropic", 503, "AI Gateway is currently at capacity. Please try again later."));
    // Probes and metrics are not LLM requests: they never count and are never refused.
    assert.equal((await send(`${url}/healthz`)).status, 200);
    assert.equal((await send(`${url}/readyz`)).status, 200);
    assert.equal(h.cp.callsOf("IsAuthorized"), authorizeBefore);
    assert.equal(h.emulator.requests.length, upstreamBefore);
    assert.equal(await metricValue(h.gateway.metrics.requestsRefusedTotal, { reason: "at_capacity" }), 2);

    assert.deepEqual((await Promise.all(slow)).map((r) => r.status), [200, 200]);
    assert.equal((await send(`${url}/openai/v1/chat/completions`, { headers: auth, body: CHAT })).status, 200);
  });
});

describe("--rate-limit", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ gateway: { rateLimit: 2 } });
  });
  after(() => h.close());

  /** Waits for the start of a second, so the requests that follow share one window. */
  async function startOfSecond(): Promise<void> {
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
  }

  it("answers 429 with Retry-After to a credential beyond its requests per second, without calling the provider", async () => {
    const url = `${h.gateway.url}/openai/v1/chat/completions`;
    const other = makeUser("bob");
    h.cp.addUser(other);
    await startOfSecond();
    const upstreamBefore = h.emulator.requests.length;
    const results = await Promise.all([0, 1, 2].map(() => send(url, { headers: { authorization: `Bearer ${h.user.key}` }, body: CHAT })));
    // Another credential has its own count; the same key by X-Api-Key is the same credential.
    const bob = await send(url, { headers: { authorization: `Bearer ${other.key}` }, body: CHAT });
    const viaApiKeyHeader = await send(`${h.gateway.url}/anthropic/v1/messages`, { headers: { "x-api-key": h.user.key }, body: MESSAGES });

    assert.deepEqual(results.map((r) => r.status).sort(), [200, 200, 429]);
    const limited = results.find((r) => r.status === 429)!;
    assert.equal(limited.headers.get("retry-after"), "1");
    assert.deepEqual(limited.json, gatewayErrorBody("openai", 429, "rate limit exceeded", "At most 2 requests per second per API key; retry after 1 s."));
    assert.equal(bob.status, 200);
    assert.equal(viaApiKeyHeader.status, 429);
    assert.deepEqual(viaApiKeyHeader.json, gatewayErrorBody("anthropic", 429, "rate limit exceeded", "At most 2 requests per second per API key; retry after 1 s."));
    // Only the admitted requests were sent upstream.
    assert.equal(h.emulator.requests.length - upstreamBefore, 3);
    assert.equal(await metricValue(h.gateway.metrics.requestsRefusedTotal, { reason: "rate_limited" }), 2);

    await startOfSecond();
    assert.equal((await send(url, { headers: { authorization: `Bearer ${h.user.key}` }, body: CHAT })).status, 200);
  });

  // Property: the limit comes before authorization: an unknown key is refused as unauthorized
  // (403) while within the limit and as rate-limited (429) beyond it, without an IsAuthorized.
  it("counts a credential before authorizing it", async () => {
    const unknown = makeUser("nobody"); // never added to the control plane
    await startOfSecond();
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${unknown.key}` }, body: CHAT })).status);
    assert.deepEqual(statuses, [403, 403, 429]);
  });

  it("does not limit requests without a credential (they get 400)", async () => {
    await startOfSecond();
    const answers = await Promise.all([0, 1, 2, 3].map(() => send(`${h.gateway.url}/openai/v1/chat/completions`, { body: CHAT })));
    assert.deepEqual(answers.map((r) => r.status), [400, 400, 400, 400]);
  });
});

describe("overload options", () => {
  it("refuses negative or fractional limits", () => {
    for (const [name, value] of [
      ["maxConcurrency", -1],
      ["rateLimit", 1.5],
    ] as const) {
      assert.throws(
        () => new Gateway({ controlPlaneUrl: "http://127.0.0.1:1", gatewayKey: "k", [name]: value }),
        (err: unknown) => err instanceof InvalidGatewayOptionsError && err.message === `${name} must be a whole number, 0 for no limit, got ${value}`,
      );
    }
  });
});
