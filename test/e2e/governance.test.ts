// Governance through real replicas: a suspended user is refused, BYOK reaches the upstream with
// the user's own key and no governance header, and deleting the shared gateway key makes every
// replica refuse LLM requests (then exit non-zero naming why). Replicas cache authorizations
// while the control plane pushes changes (API 1.1), so a change takes effect within push
// latency: the tests give it the documented bound of 1 s, then require every request refused.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventually, startStack, type Stack } from "./stack.js";

let stack: Stack;
before(async () => {
  stack = await startStack({ replicas: 2, gatewayArgs: ["--allow-byok", "--send-actor-headers"] });
});
after(async () => {
  await stack?.stop();
});

/** Polls `replica` with `headers` until it answers `status`, for at most 1 s (the revocation bound). */
async function within1s(replica: number, headers: Record<string, string>, status: number): Promise<void> {
  const deadline = Date.now() + 1_000;
  for (;;) {
    const res = await chat(replica, headers);
    await res.body?.cancel();
    if (res.status === status) return;
    assert.ok(Date.now() < deadline, `replica ${replica} still answers ${res.status}, want ${status}, 1 s after the change`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const chat = (replica: number, headers: Record<string, string>) =>
  fetch(`${stack.replicas[replica]!.url}/openai/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
  });

describe("governance", () => {
  it("BYOK: the user's own key reaches the upstream, the governance header does not; the actor headers name the user", async () => {
    const before = stack.emulator.requests.length;
    const res = await chat(0, { "x-ai-governance-token": stack.user.apiKey, authorization: "Bearer sk-users-own-openai-key", "x-ai-bridge-actor-id": "forged" });
    assert.equal(res.status, 200, await res.clone().text());
    const upstream = stack.emulator.requests[before]!;
    assert.equal(stack.emulator.requests.length, before + 1);
    assert.equal(upstream.headers.authorization, "Bearer sk-users-own-openai-key");
    assert.deepEqual(Object.keys(upstream.headers).filter((h) => h.startsWith("x-ai-governance")), []);
    assert.ok(!JSON.stringify(upstream.headers).includes(stack.user.apiKey));
    assert.equal(upstream.headers["x-ai-bridge-actor-id"], stack.user.id);
    assert.equal(upstream.headers["x-ai-bridge-actor-metadata-username"], "alice");
  });

  it("a suspended user's key gets 403 from every replica, without reaching the upstream", async () => {
    const auth = { authorization: `Bearer ${stack.user.apiKey}` };
    // Both replicas have the key cached.
    for (const replica of [0, 1]) assert.equal((await chat(replica, auth)).status, 200);
    const patched = await stack.admin.request("PATCH", `/api/v2/users/${stack.user.id}`, { status: "suspended" });
    assert.equal(patched.status, 200);
    for (const replica of [0, 1]) await within1s(replica, auth, 403);
    const before = stack.emulator.requests.length;
    for (const replica of [0, 1]) {
      const res = await chat(replica, auth);
      assert.equal(res.status, 403);
    }
    assert.equal(stack.emulator.requests.length, before);
    assert.equal((await stack.admin.request("PATCH", `/api/v2/users/${stack.user.id}`, { status: "active" })).status, 200);
    await within1s(1, auth, 200);
  });

  it("deleting the gateway key makes both replicas refuse LLM requests within 1 s", async () => {
    for (const replica of [0, 1]) assert.equal((await chat(replica, { authorization: `Bearer ${stack.user.apiKey}` })).status, 200);
    const deleted = await stack.admin.request("DELETE", `/api/v2/ai-gateway/keys/${stack.gatewayKey.id}`);
    assert.equal(deleted.status, 204);
    // The control plane ends the replicas' watch streams: their caches stop answering.
    for (const replica of [0, 1]) {
      const deadline = Date.now() + 1_000;
      for (;;) {
        const res = await chat(replica, { authorization: `Bearer ${stack.user.apiKey}` }).catch((err: Error) => err);
        if (res instanceof Error || res.status >= 400) break;
        assert.ok(Date.now() < deadline, `replica ${replica} still serves 1 s after its key was deleted`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const before = stack.emulator.requests.length;
    for (const replica of [0, 1]) {
      const res = await chat(replica, { authorization: `Bearer ${stack.user.apiKey}` }).catch((err: Error) => err);
      // Refused: an error status, or the replica already gone; never an answer from upstream.
      if (!(res instanceof Error)) assert.ok(res.status >= 400, `replica ${replica} answered ${res.status}`);
    }
    assert.equal(stack.emulator.requests.length, before);
    // A replica whose key was revoked stops, exit code 1, with a line naming the reason.
    for (const replica of stack.replicas) {
      const exit = await eventually("replica exit", async () => (replica.process.child.exitCode !== null ? await replica.process.exited : undefined));
      assert.equal(exit.code, 1, replica.process.output());
      assert.match(replica.process.output(), /AI Gateway key invalid\./);
    }
  });
});
