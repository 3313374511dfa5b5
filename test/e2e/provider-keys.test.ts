// `weir gateway --openai-api-key-file` with two keys, one per line, as an operator sets it up:
// when the provider rate-limits the first key, the official OpenAI SDK still gets its answer
// (served with the second key, the failover invisible to it), and the control plane records the
// key that answered.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { chatCompletion } from "@weir/gateway/testing";
import { eventually, startStack, type Stack } from "./stack.js";

const FIRST = "sk-e2e-first-key-0000000001";
const SECOND = "sk-e2e-second-key-000000002";
let stack: Stack;
let upstream: Server;
let dir: string;
const keysSeen: string[] = [];

before(async () => {
  upstream = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const key = String(req.headers.authorization).replace(/^Bearer /, "");
      keysSeen.push(key);
      if (key === FIRST) {
        res.writeHead(429, { "content-type": "application/json", "retry-after": "30" });
        res.end(JSON.stringify({ error: { message: "Rate limit reached", type: "requests", param: null, code: "rate_limit_exceeded" } }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(chatCompletion({ id: "chatcmpl-e2e", content: "served", promptTokens: 3 })));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  dir = await mkdtemp(join(tmpdir(), "weir-keys-"));
  await writeFile(join(dir, "openai-keys"), `${FIRST}\n${SECOND}\n`, { mode: 0o600 });
  stack = await startStack({ replicas: 0 });
});
after(async () => {
  await stack?.stop();
  await new Promise((r) => upstream.close(r));
  await rm(dir, { recursive: true, force: true });
});

describe("central provider keys", () => {
  it("fails over from a rate-limited key to the next one in the key file, unseen by the SDK", async () => {
    const replica = await stack.startReplica([
      "--openai-base-url",
      `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`,
      "--openai-api-key",
      "",
      "--openai-api-key-file",
      join(dir, "openai-keys"),
    ]);
    const openai = new OpenAI({ apiKey: stack.user.apiKey, baseURL: `${replica.url}/openai/v1`, maxRetries: 0 });
    const { data, response } = await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }).withResponse();
    assert.equal(data.choices[0]?.message.content, "served");
    assert.deepEqual(keysSeen, [FIRST, SECOND]);
    const id = response.headers.get("x-weir-interception-id");
    const recorded = await eventually("the interception, ended", async () => {
      const res = await stack.admin.request("GET", `/api/v2/ai-gateway/interceptions/${id}`);
      return res.status === 200 && res.body.ended_at !== null ? res.body : undefined;
    });
    assert.equal(recorded.credential_kind, "centralized");
    assert.equal(recorded.credential_hint, "sk-e...0002");
    assert.equal(recorded.error_type, null);
    const metrics = await (await fetch(`${replica.url}/metrics`)).text();
    assert.match(metrics, /^weir_gateway_provider_key_failovers_total\{provider="openai",status="429"\} 1$/m);
    assert.match(metrics, /^weir_gateway_provider_keys_usable\{provider="openai"\} 1$/m);
  });
});
