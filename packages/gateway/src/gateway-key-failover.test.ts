// Several central provider keys through real HTTP: a provider that refuses a key (429, 401, 403)
// gets the same request again with the next key before anything reaches the client; the
// refused key cools down; the interception's end names the key that answered; when every key is
// refused the client gets the provider's own refusal. BYOK requests never fail over.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { maskCredential } from "./credentials.js";
import { metricValue, send, startHarness, waitForEnded } from "./test-harness.js";
import { chatCompletion } from "./testing/index.js";
import type { Harness } from "./test-harness.js";

const KEYS = ["sk-first-0000000000000001", "sk-second-000000000000002", "sk-third-0000000000000003"];
const CHAT = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] };
const COMPLETION = chatCompletion({ id: "chatcmpl-1", content: "hello" });

/** An OpenAI stand-in that answers each key as scripted and notes which key each request used. */
let refusals: Map<string, { status: number; retryAfter?: string }>;
const keysSeen: string[] = [];
let upstream: Server;
let h: Harness;

before(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const key = String(req.headers.authorization).replace(/^Bearer /, "");
      keysSeen.push(key);
      // A model no key may use: the refusal is the request's, not a key's.
      const forbidden = chunks.length > 0 && JSON.parse(Buffer.concat(chunks).toString("utf8")).model === "o1-forbidden";
      const refusal = forbidden ? { status: 403 } : refusals.get(key);
      if (refusal !== undefined) {
        res.writeHead(refusal.status, { "content-type": "application/json", ...(refusal.retryAfter ? { "retry-after": refusal.retryAfter } : {}) });
        res.end(JSON.stringify({ error: { message: `refused ${refusal.status}`, type: "requests", code: null, param: null } }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(COMPLETION));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const baseUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  h = await startHarness({ gateway: { openai: { baseUrl, apiKeys: KEYS }, allowByok: true } });
});
after(async () => {
  await h?.close();
  await new Promise((r) => upstream.close(r));
});
beforeEach(() => {
  keysSeen.length = 0;
});

const chat = (headers: Record<string, string> = {}) =>
  send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${h.user.key}`, ...headers }, body: CHAT });

describe("central key failover", () => {
  it("sends the request again with the next key when the provider rate-limits the first, and records the key that answered", async () => {
    refusals = new Map([[KEYS[0]!, { status: 429, retryAfter: "20" }]]);
    const ended = h.cp.ended.length;
    const res = await chat();
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, COMPLETION);
    assert.deepEqual(keysSeen, [KEYS[0], KEYS[1]]);
    await waitForEnded(h, ended + 1);
    assert.equal(h.cp.interceptions.at(-1)?.credentialHint, maskCredential(KEYS[0]));
    assert.equal(h.cp.ended.at(-1)?.credentialHint, maskCredential(KEYS[1]));
    assert.equal(h.cp.ended.at(-1)?.errorType, undefined);
    assert.equal(await metricValue(h.gateway.metrics.providerKeyFailoversTotal, { provider: "openai", status: "429" }), 1);
    assert.equal(await metricValue(h.gateway.metrics.providerKeysUsable, { provider: "openai" }), 2);
    assert.ok(h.logs.some((l) => l.includes("provider refused a central key; trying the next")));
    const endLine = h.logs.map((l) => JSON.parse(l)).find((l) => l.msg === "interception ended" && l.answered_credential_hint !== undefined);
    assert.deepEqual([endLine?.credential_hint, endLine?.answered_credential_hint], [maskCredential(KEYS[0]), maskCredential(KEYS[1])]);
    assert.ok(h.logs.every((l) => !KEYS.some((k) => l.includes(k))), "a provider key was logged");
  });

  it("goes straight to the next key while the refused one cools down", async () => {
    const res = await chat();
    assert.equal(res.status, 200);
    assert.deepEqual(keysSeen, [KEYS[1]]);
  });

  it("fails over on a rejected key (401) too, and passes the provider's refusal on once every key is refused", async () => {
    refusals = new Map([
      [KEYS[0]!, { status: 429, retryAfter: "20" }],
      [KEYS[1]!, { status: 401 }],
    ]);
    const third = await chat();
    assert.equal(third.status, 200);
    assert.deepEqual(keysSeen, [KEYS[1], KEYS[2]]);

    keysSeen.length = 0;
    refusals.set(KEYS[2]!, { status: 403 });
    const refused = await chat();
    // The first key still cools (429 for 20 s), the second too (401: 5 min): the third is the last resort.
    assert.deepEqual(keysSeen, [KEYS[2]]);
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.json, { error: { message: "refused 403", type: "requests", code: null, param: null } });
  });

  it("cools no key for a request every key refuses, so one member cannot keep all keys cooling", async () => {
    refusals = new Map();
    // Start from a pool where every key is usable again.
    const fresh = await startHarness({ gateway: { openai: { baseUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`, apiKeys: KEYS.slice(0, 2) } } });
    try {
      const send2 = (model: string) =>
        send(`${fresh.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${fresh.user.key}` }, body: { ...CHAT, model } });
      const refused = await send2("o1-forbidden");
      assert.equal(refused.status, 403);
      assert.deepEqual(keysSeen, [KEYS[0], KEYS[1]]);
      keysSeen.length = 0;
      assert.equal((await send2("gpt-4o")).status, 200);
      assert.deepEqual(keysSeen, [KEYS[0]], "the first key was not cooled by the request's own refusal");
      assert.equal(await metricValue(fresh.gateway.metrics.providerKeysUsable, { provider: "openai" }), 2);
    } finally {
      await fresh.close();
    }
  });

  it("when every key is rate-limited, pauses failover for the Retry-After instead of trying every key on every request", async () => {
    const fresh = await startHarness({ gateway: { openai: { baseUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`, apiKeys: KEYS } } });
    try {
      refusals = new Map(KEYS.map((k) => [k, { status: 429, retryAfter: "20" }]));
      const one = () => send(`${fresh.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${fresh.user.key}` }, body: CHAT });
      assert.equal((await one()).status, 429);
      assert.deepEqual(keysSeen, KEYS, "the first request tries every key");
      keysSeen.length = 0;
      for (let i = 0; i < 5; i++) assert.equal((await one()).status, 429);
      assert.deepEqual(keysSeen, Array(5).fill(KEYS[0]), "then one attempt per request, as with one key");
    } finally {
      await fresh.close();
    }
  });

  it("fails over on passthrough routes too (models, count_tokens)", async () => {
    const fresh = await startHarness({ gateway: { openai: { baseUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`, apiKeys: KEYS.slice(0, 2) } } });
    try {
      refusals = new Map([[KEYS[0]!, { status: 401 }]]);
      const res = await send(`${fresh.gateway.url}/openai/v1/models`, { headers: { authorization: `Bearer ${fresh.user.key}` } });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(keysSeen, [KEYS[0], KEYS[1]]);
      assert.equal(await metricValue(fresh.gateway.metrics.providerKeyFailoversTotal, { provider: "openai", status: "401" }), 1);
    } finally {
      await fresh.close();
    }
  });

  it("never fails over a BYOK request: the user's own key is the only one", async () => {
    refusals = new Map([["sk-users-own-key-00000000", { status: 429 }]]);
    const res = await chat({ "x-ai-governance-token": h.user.key, authorization: "Bearer sk-users-own-key-00000000" });
    assert.equal(res.status, 429);
    assert.deepEqual(keysSeen, ["sk-users-own-key-00000000"]);
  });
});
