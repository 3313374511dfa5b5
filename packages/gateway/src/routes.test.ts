// Pins the route table: bridged routes, passthrough routes, the alias prefix, and 404s.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveRoute, upstreamTarget } from "./index.js";

describe("resolveRoute", () => {
  const cases: { name: string; method: string; target: string; want: unknown }[] = [
    { name: "chat", method: "POST", target: "/openai/v1/chat/completions", want: { kind: "bridged", api: "openai-chat", upstreamPath: "/chat/completions" } },
    { name: "responses", method: "POST", target: "/openai/v1/responses", want: { kind: "bridged", api: "openai-responses", upstreamPath: "/responses" } },
    { name: "messages", method: "POST", target: "/anthropic/v1/messages", want: { kind: "bridged", api: "anthropic-messages", upstreamPath: "/v1/messages" } },
    { name: "messages keeps the query", method: "POST", target: "/anthropic/v1/messages?beta=true", want: { kind: "bridged", api: "anthropic-messages", upstreamPath: "/v1/messages?beta=true" } },
    { name: "alias chat", method: "POST", target: "/api/v2/ai-gateway/openai/v1/chat/completions", want: { kind: "bridged", api: "openai-chat", upstreamPath: "/chat/completions" } },
    { name: "alias messages", method: "POST", target: "/api/v2/ai-gateway/anthropic/v1/messages", want: { kind: "bridged", api: "anthropic-messages", upstreamPath: "/v1/messages" } },
    { name: "GET on a bridged route", method: "GET", target: "/openai/v1/chat/completions", want: undefined },
    { name: "openai models", method: "GET", target: "/openai/v1/models", want: { kind: "passthrough", route: "/openai/v1/models", upstreamPath: "/models" } },
    { name: "openai model", method: "GET", target: "/openai/v1/models/gpt-4o", want: { kind: "passthrough", route: "/openai/v1/models/{id}", upstreamPath: "/models/gpt-4o" } },
    { name: "anthropic models", method: "GET", target: "/anthropic/v1/models?limit=2", want: { kind: "passthrough", route: "/anthropic/v1/models", upstreamPath: "/v1/models?limit=2" } },
    { name: "anthropic model", method: "GET", target: "/anthropic/v1/models/claude", want: { kind: "passthrough", route: "/anthropic/v1/models/{id}", upstreamPath: "/v1/models/claude" } },
    { name: "count tokens", method: "POST", target: "/anthropic/v1/messages/count_tokens", want: { kind: "passthrough", route: "/anthropic/v1/messages/count_tokens", upstreamPath: "/v1/messages/count_tokens" } },
    { name: "alias passthrough", method: "GET", target: "/api/v2/ai-gateway/openai/v1/models", want: { kind: "passthrough", route: "/openai/v1/models", upstreamPath: "/models" } },
    { name: "unknown path", method: "POST", target: "/openai/v1/embeddings", want: undefined },
    { name: "root", method: "GET", target: "/", want: undefined },
    { name: "trailing slash models subtree needs an id", method: "GET", target: "/openai/v1/models/", want: undefined },
    { name: "dot segments are refused", method: "GET", target: "/openai/v1/models/../../admin", want: undefined },
    { name: "encoded dot segments are refused", method: "GET", target: "/openai/v1/models/%2e%2e/x", want: undefined },
    { name: "encoded slash is refused", method: "GET", target: "/openai/v1/models/a%2fb", want: undefined },
    { name: "a single dot segment is refused", method: "GET", target: "/openai/v1/models/.", want: undefined },
    { name: "encoded backslash is refused", method: "GET", target: "/openai/v1/models/a%5cb", want: undefined },
    { name: "backslash is refused", method: "GET", target: "/openai/v1/models/a\\b", want: undefined },
    { name: "dot segments of a relative target are refused", method: "GET", target: "../openai/v1/models", want: undefined },
    { name: "a name starting with a dot is no dot segment", method: "GET", target: "/openai/v1/models/.gpt", want: { kind: "passthrough", route: "/openai/v1/models/{id}", upstreamPath: "/models/.gpt" } },
    { name: "an encoded plain name", method: "GET", target: "/openai/v1/models/gpt%2D4o", want: { kind: "passthrough", route: "/openai/v1/models/{id}", upstreamPath: "/models/gpt%2D4o" } },
    { name: "prefix lookalike", method: "POST", target: "/openai/v1/chat/completionsX", want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = resolveRoute(c.method, c.target);
      if (c.want === undefined) {
        assert.equal(got, undefined);
        return;
      }
      assert.ok(got !== undefined);
      const picked: Record<string, unknown> = {};
      for (const key of Object.keys(c.want as object)) picked[key] = (got as unknown as Record<string, unknown>)[key];
      assert.deepEqual(picked, c.want);
    });
  }
});

describe("upstreamTarget", () => {
  const cases = [
    { base: "https://api.openai.com/v1", path: "/chat/completions", want: { origin: "https://api.openai.com", path: "/v1/chat/completions" } },
    { base: "https://api.openai.com/v1/", path: "/models", want: { origin: "https://api.openai.com", path: "/v1/models" } },
    { base: "https://api.anthropic.com", path: "/v1/messages?beta=true", want: { origin: "https://api.anthropic.com", path: "/v1/messages?beta=true" } },
    { base: "http://127.0.0.1:9000/anthropic", path: "/v1/messages", want: { origin: "http://127.0.0.1:9000", path: "/anthropic/v1/messages" } },
  ];
  for (const c of cases) it(`${c.base} + ${c.path}`, () => assert.deepEqual(upstreamTarget(c.base, c.path), c.want));
});
