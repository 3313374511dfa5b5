// One member's 16 MiB prompt through a real replica and control plane. It once broke the replica
// for everyone: the prompt record exceeded the control plane's HTTP/2 session memory, the
// session's streams were reset (authorizations included), and the record was retried forever.
// Now the request is served, the recorded prompt is cut to 1 MiB and says so, and the replica
// keeps authorizing other users' keys.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eventually, startStack, type Stack } from "./stack.js";

let stack: Stack;
before(async () => {
  stack = await startStack({ replicas: 1 });
});
after(async () => {
  await stack?.stop();
});

const chat = (apiKey: string, content: string) =>
  fetch(`${stack.replicas[0]!.url}/openai/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content }] }),
  });

describe("an oversized prompt", () => {
  it("is served, recorded cut to 1 MiB with a note, and leaves the replica serving every user", async () => {
    const prompt = "é".repeat(8 * 1024 * 1024); // 16 MiB of UTF-8
    const res = await chat(stack.user.apiKey, prompt);
    assert.equal(res.status, 200, await res.clone().text());
    const id = res.headers.get("x-weir-interception-id");
    await res.arrayBuffer();

    const recorded = await eventually("the interception with its prompt", async () => {
      const r = await stack.admin.request("GET", `/api/v2/ai-gateway/interceptions/${id}`);
      return r.status === 200 && r.body.ended_at !== null && r.body.prompts.length === 1 ? r.body : undefined;
    }, 30_000);
    const stored: string = recorded.prompts[0].prompt;
    assert.ok(stored.endsWith(" […truncated by Weir: 16777216 bytes in all]"), stored.slice(-80));
    assert.ok(Buffer.byteLength(stored) <= 1024 * 1024);
    assert.ok(stored.startsWith("éé"));
    assert.equal(recorded.token_usages.length, 1);

    // A key this replica has never seen must still be authorized (a fresh IsAuthorized RPC).
    const bob = (await stack.admin.request("POST", "/api/v2/users", { username: "bob", role: "member" })).body;
    const bobKey = (await stack.admin.request("POST", `/api/v2/users/${bob.id}/keys`, { name: "k" })).body.key;
    const after = await chat(bobKey, "hello");
    assert.equal(after.status, 200, await after.clone().text());
    const metrics = await (await fetch(`${stack.replicas[0]!.url}/metrics`)).text();
    assert.doesNotMatch(metrics, /^weir_gateway_record_batches_total\{outcome="failed"\} [1-9]/m);
    assert.doesNotMatch(metrics, /^weir_gateway_records_dropped_total\{.*\} [1-9]/m);
  });
});
