// Gateway.replaceProviderKeys through real HTTP: the next request uses the new key, a request
// already at the provider finishes with its own, and a replacement that cannot be used changes
// nothing at all — not even the providers it named correctly. The SIGHUP path through
// `weir gateway` is test/e2e/provider-key-rotation.test.ts.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { send, startHarness } from "./test-harness.js";
import { chatCompletion } from "./testing/index.js";
import type { Harness } from "./test-harness.js";

const FIRST = "sk-rotation-first-00000001";
const SECOND = "sk-rotation-second-0000002";
const THIRD = "sk-rotation-third-00000003";
const COMPLETION = chatCompletion({ id: "chatcmpl-rot", content: "hello" });

/** The OpenAI stand-in: answers at once, or holds the answer of a request for model "held". */
const keysSeen: string[] = [];
let held: { res: ServerResponse; key: string } | undefined;
let upstream: Server;
let h: Harness;

before(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const key = String(req.headers.authorization).replace(/^Bearer /, "");
      keysSeen.push(key);
      if (JSON.parse(Buffer.concat(chunks).toString("utf8")).model === "held") {
        held = { res, key };
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(COMPLETION));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const baseUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  // Anthropic without central keys: BYOK only.
  h = await startHarness({ gateway: { openai: { baseUrl, apiKeys: [FIRST] }, anthropic: { baseUrl }, allowByok: true } });
});
after(async () => {
  await h?.close();
  await new Promise((r) => upstream.close(r));
});
beforeEach(() => {
  keysSeen.length = 0;
});

const chat = (model = "gpt-4o") =>
  send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${h.user.key}` }, body: { model, messages: [{ role: "user", content: "hi" }] } });

const replacedLines = () => h.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "provider keys replaced");

describe("replacing central provider keys", () => {
  it("sends the next request with the new key; a request already at the provider finishes with its own", async () => {
    const first = chat("held");
    while (held === undefined) await new Promise((r) => setTimeout(r, 5));
    h.gateway.replaceProviderKeys({ openai: [SECOND] });
    assert.equal((await chat()).status, 200);
    held.res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(COMPLETION));
    assert.equal((await first).status, 200);
    assert.deepEqual(keysSeen, [FIRST, SECOND]);
    assert.deepEqual(replacedLines().at(-1)?.providers, { openai: { keys: 1, added: 1, removed: 1 } });
    assert.ok(h.logs.every((l) => !l.includes(FIRST) && !l.includes(SECOND)), "a provider key was logged");
    // The same keys again (a SIGHUP for another file): said as such, not as a replacement.
    const replaced = replacedLines().length;
    h.gateway.replaceProviderKeys({ openai: [SECOND] });
    assert.equal(replacedLines().length, replaced);
    const unchanged = h.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "provider keys unchanged");
    assert.deepEqual(unchanged.at(-1)?.providers, { openai: { keys: 1, added: 0, removed: 0 } });
  });

  it("refuses a replacement that cannot be used, naming why, and changes nothing, not even the providers named correctly", () => {
    h.gateway.replaceProviderKeys({ openai: [SECOND] });
    const lines = replacedLines().length;
    const refusals: [Parameters<typeof h.gateway.replaceProviderKeys>[0], string][] = [
      [{ openai: [THIRD], anthropic: ["sk-ant-new"] }, "anthropic: this gateway started without central keys; adding some needs a restart"],
      [{ openai: [] }, "openai: at least one API key is needed"],
      [{ openai: [THIRD, " "] }, "openai: an API key is empty"],
      [{ openai: [THIRD, THIRD] }, "openai: an API key is given twice"],
      [{ openai: [THIRD], mistral: ["k"] } as never, "mistral: not a provider (openai, anthropic)"],
    ];
    for (const [keys, message] of refusals) {
      assert.throws(() => h.gateway.replaceProviderKeys(keys), (err: Error) => err.name === "InvalidGatewayOptionsError" && err.message === message, message);
    }
    assert.equal(replacedLines().length, lines);
  });

  it("keeps the key in use after a refused replacement", async () => {
    assert.throws(() => h.gateway.replaceProviderKeys({ openai: [THIRD], anthropic: ["sk-ant-new"] }));
    assert.equal((await chat()).status, 200);
    assert.deepEqual(keysSeen, [SECOND]);
  });
});
