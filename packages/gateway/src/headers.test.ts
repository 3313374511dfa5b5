// Pins which headers reach the provider in centralized and BYOK mode, and which come back.

import assert from "node:assert/strict";
import type { IncomingHttpHeaders } from "node:http";
import { describe, it } from "node:test";
import { clientResponseHeaders, upstreamRequestHeaders } from "./index.js";

const incoming: IncomingHttpHeaders = {
  host: "gateway.local",
  connection: "keep-alive, x-drop-me",
  "keep-alive": "timeout=5",
  "proxy-authorization": "Basic x",
  "proxy-connection": "keep-alive",
  te: "trailers",
  trailer: "x",
  "transfer-encoding": "chunked",
  upgrade: "h2c",
  "content-length": "12",
  "accept-encoding": "gzip",
  "x-drop-me": "1",
  authorization: "Bearer user-key",
  "x-api-key": "user-api-key",
  "x-ai-governance-token": "weir-key",
  "x-ai-governance-request-id": "req-1",
  "x-ai-governance-anything": "internal",
  "weir-session-token": "session",
  "x-weir-interception-id": "spoofed",
  x_ai_bridge_actor_id: "forged",
  "x_ai_governance-token": "weir-key",
  x_weir_anything: "internal",
  "X-Weir-Anything": "internal",
  "content-type": "application/json",
  "anthropic-beta": "tools-2024",
  "user-agent": "claude-cli/1.0",
};

describe("upstreamRequestHeaders", () => {
  const cases = [
    {
      name: "centralized openai",
      options: { provider: "openai", kind: "centralized", providerKey: "sk-central" } as const,
      want: { authorization: "Bearer sk-central", "content-type": "application/json", "anthropic-beta": "tools-2024", "user-agent": "claude-cli/1.0" },
    },
    {
      name: "centralized anthropic",
      options: { provider: "anthropic", kind: "centralized", providerKey: "sk-ant" } as const,
      want: { "x-api-key": "sk-ant", "content-type": "application/json", "anthropic-beta": "tools-2024", "user-agent": "claude-cli/1.0" },
    },
    {
      name: "centralized without a configured key sends no credential",
      options: { provider: "openai", kind: "centralized", providerKey: undefined } as const,
      want: { "content-type": "application/json", "anthropic-beta": "tools-2024", "user-agent": "claude-cli/1.0" },
    },
    {
      name: "byok keeps the user's own provider credentials",
      options: { provider: "openai", kind: "byok", providerKey: "sk-central" } as const,
      want: {
        authorization: "Bearer user-key",
        "x-api-key": "user-api-key",
        "content-type": "application/json",
        "anthropic-beta": "tools-2024",
        "user-agent": "claude-cli/1.0",
      },
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(upstreamRequestHeaders(incoming, c.options), c.want));
  }

  it("byok never forwards a credential header holding the Weir key itself", () => {
    // The gateway passes the key the client presented (the governance token, trimmed).
    const options = { provider: "anthropic", kind: "byok", providerKey: "sk-central", weirKey: "weir-key" } as const;
    const asBearer = { "x-ai-governance-token": " weir-key ", authorization: "Bearer weir-key", "x-api-key": "sk-ant-own", "content-type": "application/json" };
    assert.deepEqual(upstreamRequestHeaders(asBearer, options), { "x-api-key": "sk-ant-own", "content-type": "application/json" });
    const asApiKey = { "x-ai-governance-token": "weir-key", authorization: "Bearer sk-ant-oat01-own", "x-api-key": "weir-key" };
    assert.deepEqual(upstreamRequestHeaders(asApiKey, options), { authorization: "Bearer sk-ant-oat01-own" });
  });

  it("byok to Anthropic sends the user's X-Api-Key alone, their Authorization only without one", () => {
    const options = { provider: "anthropic", kind: "byok", providerKey: "sk-central", weirKey: "weir-key" } as const;
    const both = { "x-ai-governance-token": "weir-key", authorization: "Bearer sk-ant-oat01-own", "x-api-key": "sk-ant-own" };
    assert.deepEqual(upstreamRequestHeaders(both, options), { "x-api-key": "sk-ant-own" });
    assert.deepEqual(upstreamRequestHeaders({ ...both, "x-api-key": " " }, options), { authorization: "Bearer sk-ant-oat01-own", "x-api-key": " " });
    // OpenAI takes the bearer; an X-Api-Key is no credential of its and goes along as before.
    assert.deepEqual(upstreamRequestHeaders(both, { ...options, provider: "openai" }), { authorization: "Bearer sk-ant-oat01-own", "x-api-key": "sk-ant-own" });
  });

  // Node joins a repeated X-Api-Key into one value: "k, k" must not slip past as "not the key".
  it("byok never forwards the Weir key sent twice, or inside any other header", () => {
    const options = { provider: "anthropic", kind: "byok", providerKey: undefined, weirKey: "weir-key-0123456789" } as const;
    const twice = { "x-ai-governance-token": "weir-key-0123456789", "x-api-key": "weir-key-0123456789, weir-key-0123456789", "x-note": "token=weir-key-0123456789" };
    assert.deepEqual(upstreamRequestHeaders(twice, options), {});
    assert.deepEqual(upstreamRequestHeaders({ "x-ai-governance-token": "weir-key-0123456789", "x-api-key": ["weir-key-0123456789", "sk-ant-own"] }, options), {});
  });

  it("centralized never forwards the Weir key in a header other than Authorization or X-Api-Key", () => {
    const options = { provider: "openai", kind: "centralized", providerKey: "sk-central", weirKey: "weir-key-0123456789" } as const;
    const azureAndGoogleStyle = { authorization: "Bearer weir-key-0123456789", "api-key": "weir-key-0123456789", "x-goog-api-key": "weir-key-0123456789", "x-note": "kept" };
    assert.deepEqual(upstreamRequestHeaders(azureAndGoogleStyle, options), { "x-note": "kept", authorization: "Bearer sk-central" });
  });
});

describe("clientResponseHeaders", () => {
  it("drops hop-by-hop headers and content-length", () => {
    assert.deepEqual(
      clientResponseHeaders(
        {
          "content-type": "application/json",
          "content-length": "3",
          connection: "close",
          "transfer-encoding": "chunked",
          "x-request-id": "r",
        },
        "byok",
      ),
      { "content-type": "application/json", "x-request-id": "r" },
    );
  });

  // Headers that would act on the gateway's origin, with the provider's ordinary headers.
  const fromProvider = {
    "content-type": "application/json",
    "x-request-id": "req_1",
    "openai-processing-ms": "12",
    "anthropic-ratelimit-requests-remaining": "99",
    "set-cookie": ["__cf_bm=abc; path=/; domain=.api.openai.com", "_cfuvid=def; path=/"],
    "set-cookie2": "legacy=1",
    "strict-transport-security": "max-age=31536000; includeSubDomains; preload",
    "alt-svc": 'h3=":443"; ma=86400',
    nel: '{"report_to":"cf-nel","max_age":604800}',
    "report-to": '{"group":"cf-nel","endpoints":[{"url":"https://a.nel.cloudflare.com/report"}]}',
    "openai-organization": "org-operator",
    "openai-project": "proj_operator",
    "anthropic-organization-id": "0f3a-operator",
  };
  const ordinary = {
    "content-type": "application/json",
    "x-request-id": "req_1",
    "openai-processing-ms": "12",
    "anthropic-ratelimit-requests-remaining": "99",
  };

  it("centralized: drops cookies, HSTS, Alt-Svc, NEL, Report-To and the operator's account ids", () => {
    assert.deepEqual(clientResponseHeaders(fromProvider, "centralized"), ordinary);
  });

  it("BYOK: drops the origin headers but passes the client's own account ids", () => {
    assert.deepEqual(clientResponseHeaders(fromProvider, "byok"), {
      ...ordinary,
      "openai-organization": "org-operator",
      "openai-project": "proj_operator",
      "anthropic-organization-id": "0f3a-operator",
    });
  });
});
