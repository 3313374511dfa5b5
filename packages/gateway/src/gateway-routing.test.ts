// Pins routing through real HTTP (reference TestRouting): unsupported paths are 404 with no
// upstream call and no RPC; each bridged route makes one upstream call and one interception
// (started and ended); passthrough routes are proxied without an interception; the alias
// prefix serves the same routes.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { send, startHarness, waitForEnded } from "./test-harness.js";
import { gatewayErrorBody } from "./testing/index.js";
import type { Harness } from "./test-harness.js";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

const auth = (): Record<string, string> => ({ authorization: `Bearer ${h.user.key}` });

describe("health, readiness and metrics", () => {
  it("answer GET and HEAD without a credential, and any other method with 405, never an RPC", async () => {
    const rpcs = h.cp.rpcCount;
    for (const path of ["/healthz", "/readyz", "/metrics"]) {
      const got = await send(`${h.gateway.url}${path}`);
      assert.equal(got.status, 200, path);
      const head = await send(`${h.gateway.url}${path}`, { method: "HEAD" });
      assert.deepEqual([head.status, head.text, head.headers.get("content-type")], [200, "", got.headers.get("content-type")], path);
      for (const method of ["POST", "DELETE", "PUT"]) {
        const res = await send(`${h.gateway.url}${path}`, { method, body: method === "DELETE" ? undefined : {} });
        assert.deepEqual([res.status, res.text, res.headers.get("allow")], [405, "method not allowed\n", "GET, HEAD"], `${method} ${path}`);
      }
    }
    assert.equal(h.cp.rpcCount, rpcs);
  });
});

describe("unsupported routes", () => {
  const cases = [
    { method: "POST", path: "/openai/v1/embeddings" },
    { method: "GET", path: "/" },
    { method: "GET", path: "/openai/v1/chat/completions" },
    { method: "POST", path: "/v1/chat/completions" },
    { method: "POST", path: "/api/v2/ai-gateway/openai/v1/unknown" },
    { method: "DELETE", path: "/anthropic/v1/messages" },
    { method: "GET", path: "/openai/v1/models/../../secrets" },
  ];
  for (const c of cases) {
    it(`${c.method} ${c.path} → 404 without upstream call or RPC`, async () => {
      const upstream = h.emulator.requests.length;
      const rpcs = h.cp.rpcCount;
      const res = await send(`${h.gateway.url}${c.path}`, { method: c.method, headers: auth() });
      assert.equal(res.status, 404);
      // fetch normalises dot segments before sending.
      const sentPath = new URL(`${h.gateway.url}${c.path}`).pathname;
      const route = sentPath.includes("/openai/") ? "openai" : sentPath.includes("/anthropic/") ? "anthropic" : "none";
      assert.deepEqual(res.json, gatewayErrorBody(route, 404, `route not supported: ${c.method} ${sentPath}`));
      assert.equal(h.emulator.requests.length, upstream);
      assert.equal(h.cp.rpcCount, rpcs);
    });
  }
});

describe("bridged routes", () => {
  const cases = [
    { path: "/openai/v1/chat/completions", upstreamPath: "/openai/v1/chat/completions", body: { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] } },
    { path: "/openai/v1/responses", upstreamPath: "/openai/v1/responses", body: { model: "gpt-4o", input: "hi" } },
    { path: "/anthropic/v1/messages", upstreamPath: "/anthropic/v1/messages", body: { model: "claude-sonnet-4-6", max_tokens: 64, messages: [{ role: "user", content: "hi" }] } },
    { path: "/anthropic/v1/messages?beta=true", upstreamPath: "/anthropic/v1/messages?beta=true", body: { model: "claude-sonnet-4-6", max_tokens: 64, messages: [{ role: "user", content: "hi" }] } },
    { path: "/api/v2/ai-gateway/openai/v1/chat/completions", upstreamPath: "/openai/v1/chat/completions", body: { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] } },
    { path: "/api/v2/ai-gateway/openai/v1/responses", upstreamPath: "/openai/v1/responses", body: { model: "gpt-4o", input: "hi" } },
    { path: "/api/v2/ai-gateway/anthropic/v1/messages", upstreamPath: "/anthropic/v1/messages", body: { model: "claude-sonnet-4-6", max_tokens: 64, messages: [{ role: "user", content: "hi" }] } },
  ];
  for (const c of cases) {
    it(`POST ${c.path} → one upstream call, one interception started and ended`, async () => {
      const upstream = h.emulator.requests.length;
      const started = h.cp.interceptions.length;
      const ended = h.cp.ended.length;
      const res = await send(`${h.gateway.url}${c.path}`, { headers: auth(), body: c.body });
      assert.equal(res.status, 200);
      await waitForEnded(h, ended + 1);
      assert.equal(h.emulator.requests.length, upstream + 1);
      assert.equal(h.emulator.requests.at(-1)?.path, c.upstreamPath);
      assert.equal(h.cp.interceptions.length, started + 1);
      assert.equal(h.cp.ended.length, ended + 1);
      const interception = h.cp.interceptions.at(-1);
      assert.equal(h.cp.ended.at(-1)?.id, interception?.id);
      assert.equal(res.headers.get("x-weir-interception-id"), interception?.id);
    });
  }
});

describe("passthrough routes", () => {
  const cases = [
    { method: "GET", path: "/openai/v1/models", upstreamPath: "/openai/v1/models" },
    { method: "GET", path: "/openai/v1/models/gpt-4o", upstreamPath: "/openai/v1/models/gpt-4o" },
    { method: "GET", path: "/anthropic/v1/models", upstreamPath: "/anthropic/v1/models" },
    { method: "POST", path: "/anthropic/v1/messages/count_tokens", upstreamPath: "/anthropic/v1/messages/count_tokens", body: { model: "claude-sonnet-4-6", messages: [{ role: "user", content: "hi" }] } },
    { method: "GET", path: "/api/v2/ai-gateway/anthropic/v1/models", upstreamPath: "/anthropic/v1/models" },
  ];
  for (const c of cases) {
    it(`${c.method} ${c.path} → proxied, no interception`, async () => {
      const upstream = h.emulator.requests.length;
      const interceptions = h.cp.callsOf("RecordInterception");
      const res = await send(`${h.gateway.url}${c.path}`, { method: c.method, headers: auth(), body: c.body });
      assert.equal(res.status, 200);
      assert.equal(h.emulator.requests.length, upstream + 1);
      assert.equal(h.emulator.requests.at(-1)?.path, c.upstreamPath);
      assert.equal(h.cp.callsOf("RecordInterception"), interceptions);
      assert.equal(h.cp.callsOf("IsAuthorized") > 0, true);
    });
  }

  it("passes count_tokens' answer through unchanged", async () => {
    const res = await send(`${h.gateway.url}/anthropic/v1/messages/count_tokens`, {
      headers: auth(),
      body: { model: "claude-sonnet-4-6", messages: [{ role: "user", content: "hi" }] },
    });
    assert.deepEqual(res.json, { input_tokens: 240 });
  });

  it("passes an upstream error status and body through unchanged", async () => {
    const res = await send(`${h.gateway.url}/openai/v1/models/does-not-exist`, { headers: auth() });
    const direct = await fetch(`${h.emulator.openaiBaseUrl}/models/does-not-exist`, { headers: { authorization: "Bearer x" } });
    assert.equal(res.status, direct.status);
    assert.equal(res.text, await direct.text());
  });
});
