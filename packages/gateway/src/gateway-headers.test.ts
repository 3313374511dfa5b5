// Pins what the provider receives (asserted on the emulator): no X-AI-Governance-* header
// ever, the user's Weir key never in centralized mode, the configured provider key injected;
// in BYOK mode the user's own provider credential goes through untouched.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ANTHROPIC_KEY, GATEWAY_KEY, OPENAI_KEY, send, startHarness, waitForEnded } from "./test-harness.js";
import type { Harness } from "./test-harness.js";

let h: Harness;
before(async () => {
  h = await startHarness({ gateway: { allowByok: true } });
});
after(() => h.close());

const chat = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] };
const messages = { model: "claude-sonnet-4-6", max_tokens: 64, messages: [{ role: "user", content: "hi" }] };

function governanceHeaders(headers: Record<string, string>): string[] {
  return Object.keys(headers).filter((name) => name.startsWith("x-ai-governance-"));
}

interface Case {
  name: string;
  path: string;
  body: unknown;
  headers: () => Record<string, string>;
  /** Upstream credential headers expected, exactly. */
  want: () => { authorization: string | undefined; "x-api-key": string | undefined };
  kind: string;
  hint: string;
}

const cases: Case[] = [
  {
    name: "centralized openai (bearer; an Azure- and a Google-style copy of the key dropped)",
    path: "/openai/v1/chat/completions",
    body: chat,
    headers: () => ({ authorization: `Bearer ${h.user.key}`, "api-key": h.user.key, "x-goog-api-key": h.user.key }),
    want: () => ({ authorization: `Bearer ${OPENAI_KEY}`, "x-api-key": undefined }),
    kind: "centralized",
    hint: "sk-c...XYZ9",
  },
  {
    name: "centralized openai (x-api-key)",
    path: "/openai/v1/responses",
    body: { model: "gpt-4o", input: "hi" },
    headers: () => ({ "x-api-key": h.user.key }),
    want: () => ({ authorization: `Bearer ${OPENAI_KEY}`, "x-api-key": undefined }),
    kind: "centralized",
    hint: "sk-c...XYZ9",
  },
  {
    name: "centralized anthropic (x-api-key)",
    path: "/anthropic/v1/messages",
    body: messages,
    headers: () => ({ "x-api-key": h.user.key, "anthropic-version": "2023-06-01", "anthropic-beta": "tools-2024-04-04" }),
    want: () => ({ authorization: undefined, "x-api-key": ANTHROPIC_KEY }),
    kind: "centralized",
    hint: "sk-a...WXY8",
  },
  {
    name: "byok openai keeps the user's bearer",
    path: "/openai/v1/chat/completions",
    body: chat,
    headers: () => ({ "x-ai-governance-token": h.user.key, authorization: "Bearer sk-user-own-openai-key-1234" }),
    want: () => ({ authorization: "Bearer sk-user-own-openai-key-1234", "x-api-key": undefined }),
    kind: "byok",
    hint: "sk-u...1234",
  },
  {
    name: "byok anthropic keeps the user's x-api-key",
    path: "/anthropic/v1/messages",
    body: messages,
    headers: () => ({ "x-ai-governance-token": h.user.key, "x-api-key": "sk-ant-user-own-key-5678" }),
    want: () => ({ authorization: undefined, "x-api-key": "sk-ant-user-own-key-5678" }),
    kind: "byok",
    hint: "sk-a...5678",
  },
];

describe("headers reaching the provider", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const ended = h.cp.ended.length;
      const res = await send(`${h.gateway.url}${c.path}`, {
        headers: {
          ...c.headers(),
          "x-ai-governance-request-id": "req-42",
          "x-ai-governance-other": "internal",
          "weir-session-token": "session-secret",
          "x-custom": "kept",
          // A client claiming to be someone else to the provider.
          "x-ai-bridge-actor-id": "00000000-0000-0000-0000-000000000000",
          "x-ai-bridge-actor-metadata-username": "admin",
        },
        body: c.body,
      });
      assert.equal(res.status, 200, res.text);
      await waitForEnded(h, ended + 1);
      const received = h.emulator.requests.at(-1);
      assert.ok(received !== undefined);
      assert.deepEqual(governanceHeaders(received.headers), []);
      assert.equal(received.headers["weir-session-token"], undefined);
      assert.equal(received.headers["x-custom"], "kept");
      assert.deepEqual(Object.keys(received.headers).filter((n) => n.startsWith("x-ai-bridge-actor-")), [], "actor headers without --send-actor-headers");
      assert.deepEqual({ authorization: received.headers.authorization, "x-api-key": received.headers["x-api-key"] }, c.want());
      assert.ok(!JSON.stringify(received.headers).includes(h.user.key), "the Weir key reached the provider");
      const interception = h.cp.interceptions.at(-1);
      assert.equal(interception?.credentialKind, c.kind);
      assert.equal(interception?.credentialHint, c.hint);
      assert.equal(h.cp.ended.at(-1)?.credentialHint, c.hint);
    });
  }

  // The Weir key in Authorization is not a provider key: it is not forwarded, and its hint (part
  // of the Weir key's secret) is not recorded. With no provider credential of its own, the request
  // uses the central key, as the reference does (the same user gets it without the governance header).
  for (const c of [
    { name: "the Weir key as the bearer too", headers: () => ({ "x-ai-governance-token": h.user.key, authorization: `Bearer ${h.user.key}` }) },
    { name: "nothing beside the governance header", headers: () => ({ "x-ai-governance-token": h.user.key }) },
  ]) {
    it(`byok with ${c.name} uses the central key and records it as centralized`, async () => {
      const ended = h.cp.ended.length;
      const res = await send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: c.headers(), body: chat });
      assert.equal(res.status, 200, res.text);
      await waitForEnded(h, ended + 1);
      const received = h.emulator.requests.at(-1)!;
      assert.equal(received.headers.authorization, `Bearer ${OPENAI_KEY}`);
      assert.ok(!JSON.stringify(received.headers).includes(h.user.key));
      assert.equal(h.cp.interceptions.at(-1)?.credentialKind, "centralized");
      assert.equal(h.cp.interceptions.at(-1)?.credentialHint, "sk-c...XYZ9");
      assert.equal(h.cp.ended.at(-1)?.credentialHint, "sk-c...XYZ9");
    });
  }

  it("forwards Anthropic's version and beta headers", () => {
    const anthropic = h.emulator.requests.find((r) => r.headers["anthropic-beta"] !== undefined);
    assert.equal(anthropic?.headers["anthropic-version"], "2023-06-01");
    assert.equal(anthropic?.headers["anthropic-beta"], "tools-2024-04-04");
  });

  it("logs the governance request id as request_id", () => {
    const withId = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.request_id === "req-42");
    assert.ok(withId.length >= cases.length);
  });

  it("logs a client's model name cut to 256 characters", async () => {
    const ended = h.cp.ended.length;
    const model = "m".repeat(300_000);
    const res = await send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${h.user.key}` }, body: { ...chat, model } });
    assert.equal(res.status, 200, res.text.slice(0, 200));
    await waitForEnded(h, ended + 1);
    const line = h.logs.map((l) => JSON.parse(l)).find((l) => l.msg === "interception ended" && String(l.model).startsWith("mmm"));
    assert.equal(line?.model, `${"m".repeat(256)}…`);
    assert.ok(h.logs.every((l) => l.length < 10_000), "a line carries the whole name");
  });

  it("never logs a user key, a provider key or the gateway key", () => {
    for (const secret of [GATEWAY_KEY, h.user.key, OPENAI_KEY, ANTHROPIC_KEY, "sk-user-own-openai-key-1234", "sk-ant-user-own-key-5678", "session-secret"]) {
      assert.ok(h.logs.every((l) => !l.includes(secret)), `logged: ${secret.slice(0, 6)}…`);
    }
  });
});

describe("--send-actor-headers", () => {
  let actors: Harness;
  before(async () => {
    actors = await startHarness({ gateway: { sendActorHeaders: true } });
  });
  after(() => actors.close());

  it("names the authorized user to the provider, replacing whatever the client claimed", async () => {
    const res = await send(`${actors.gateway.url}/anthropic/v1/messages`, {
      headers: { "x-api-key": actors.user.key, "X-AI-Bridge-Actor-ID": "00000000-0000-0000-0000-000000000000", "x-ai-bridge-actor-metadata-role": "owner" },
      body: messages,
    });
    assert.equal(res.status, 200, res.text);
    const received = actors.emulator.requests.at(-1)!;
    const actorHeaders = Object.fromEntries(Object.entries(received.headers).filter(([n]) => n.startsWith("x-ai-bridge-actor-")));
    assert.deepEqual(actorHeaders, { "x-ai-bridge-actor-id": actors.user.ownerId, "x-ai-bridge-actor-metadata-username": "alice" });
  });

  it("drops a client's actor headers on passthrough routes too", async () => {
    const res = await send(`${actors.gateway.url}/openai/v1/models`, {
      method: "GET",
      headers: { authorization: `Bearer ${actors.user.key}`, "x-ai-bridge-actor-id": "00000000-0000-0000-0000-000000000000" },
    });
    assert.equal(res.status, 200, res.text);
    const received = actors.emulator.requests.at(-1)!;
    assert.equal(received.path, "/openai/v1/models");
    assert.equal(received.headers["x-ai-bridge-actor-id"], undefined);
  });
});
