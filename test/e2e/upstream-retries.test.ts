// `weir gateway --upstream-max-retries 2` as an operator runs it: a provider that answers 503 and
// then closes a connection unanswered still gets the official OpenAI SDK its answer (the SDK's
// own retries off, so what is seen is the gateway's), with one interception recorded and the
// retries counted on /metrics. The same error without the flag reaches the SDK.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { chatCompletion } from "@weir/gateway/testing";
import { eventually, startStack, type Stack } from "./stack.js";

let stack: Stack;
let upstream: Server;
let script: ("503" | "destroy")[] = [];
let calls = 0;

before(async () => {
  upstream = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      calls++;
      const step = script.shift();
      if (step === "destroy") {
        req.socket.destroy();
        return;
      }
      if (step === "503") {
        res.writeHead(503, { "content-type": "application/json", "retry-after-ms": "10" });
        res.end(JSON.stringify({ error: { message: "overloaded", type: "server_error", param: null, code: null } }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(chatCompletion({ id: "chatcmpl-e2e-retry", content: "served", promptTokens: 3 })));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  stack = await startStack({ replicas: 0 });
});
after(async () => {
  await stack?.stop();
  await new Promise((r) => upstream.close(r));
});

describe("--upstream-max-retries", () => {
  const baseUrl = () => `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;

  it("retries a 503 and a dropped connection before the SDK sees anything, and records one interception", async () => {
    const replica = await stack.startReplica(["--openai-base-url", baseUrl(), "--openai-api-key", "sk-e2e-retry-key-000000001", "--upstream-max-retries", "2"]);
    const openai = new OpenAI({ apiKey: stack.user.apiKey, baseURL: `${replica.url}/openai/v1`, maxRetries: 0 });
    script = ["503", "destroy"];
    calls = 0;
    const { data, response } = await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }).withResponse();
    assert.equal(data.choices[0]?.message.content, "served");
    assert.equal(calls, 3);
    const id = response.headers.get("x-weir-interception-id");
    const recorded = await eventually("the interception, ended", async () => {
      const res = await stack.admin.request("GET", `/api/v2/ai-gateway/interceptions/${id}`);
      return res.status === 200 && res.body.ended_at !== null ? res.body : undefined;
    });
    assert.equal(recorded.error_type, null);
    const metrics = await (await fetch(`${replica.url}/metrics`)).text();
    assert.match(metrics, /^weir_gateway_upstream_retries_total\{provider="openai",endpoint="\/openai\/v1\/chat\/completions",reason="5xx"\} 1$/m);
    assert.match(metrics, /^weir_gateway_upstream_retries_total\{provider="openai",endpoint="\/openai\/v1\/chat\/completions",reason="connection"\} 1$/m);
  });

  it("without the flag, the provider's 503 reaches the SDK after one call", async () => {
    const replica = await stack.startReplica(["--openai-base-url", baseUrl(), "--openai-api-key", "sk-e2e-retry-key-000000001"]);
    const openai = new OpenAI({ apiKey: stack.user.apiKey, baseURL: `${replica.url}/openai/v1`, maxRetries: 0 });
    script = ["503"];
    calls = 0;
    await assert.rejects(openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }), { status: 503 });
    assert.equal(calls, 1);
  });
});
