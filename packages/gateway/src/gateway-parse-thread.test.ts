// A gateway whose parse thread dies while it holds a request's body fails that request alone
// with a 500 (nothing recorded, nothing sent upstream), and the next large body starts a new
// thread and is served.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseThreadJobsHeld, stopParseThread } from "./parse-thread.js";
import { gatewayErrorBody } from "./testing/gateway-error-body.js";
import { eventually, send, startHarness, waitForEnded } from "./test-harness.js";
import type { Harness } from "./test-harness.js";

const THRESHOLD = 64 * 1024;

let h: Harness;
before(async () => {
  h = await startHarness({ gateway: { offThreadParseBytes: THRESHOLD } });
});
after(() => h.close());

/** A chat request of about `bytes` bytes. */
function chatOf(bytes: number, prompt: string): Record<string, unknown> {
  const turns = Math.ceil(bytes / 10_000);
  return { model: "gpt-4o", messages: [...Array.from({ length: turns }, () => ({ role: "assistant", content: "z".repeat(10_000) })), { role: "user", content: prompt }] };
}

describe("the gateway's parse thread", () => {
  it("a thread stopped while it holds a body fails that request with a 500; the next body gets a new thread", async () => {
    const upstreamBefore = h.emulator.requests.length;
    const interceptionsBefore = h.cp.interceptions.length;
    const held = send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${h.user.key}` }, body: chatOf(8 * 1024 * 1024, "lost") });
    // Checked and stopped in one step: the thread cannot answer in between.
    let stopped: Promise<void> | undefined;
    await eventually(() => {
      if (parseThreadJobsHeld() === 0) return false;
      stopped = stopParseThread();
      return true;
    }, 10_000, "the parse thread to hold the body");
    await stopped;
    const res = await held;
    assert.equal(res.status, 500);
    assert.deepEqual(res.json, gatewayErrorBody("openai", 500, "internal server error"));
    assert.equal(h.emulator.requests.length, upstreamBefore, "nothing went upstream");
    assert.equal(h.cp.interceptions.length, interceptionsBefore, "nothing was recorded");

    const ended = h.cp.ended.length;
    const next = await send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${h.user.key}` }, body: chatOf(2 * THRESHOLD, "served") });
    assert.equal(next.status, 200);
    await waitForEnded(h, ended + 1);
    const interception = h.cp.interceptions.at(-1)!;
    assert.equal(interception.model, "gpt-4o");
    assert.deepEqual(h.cp.recordsOf(interception.id).prompts.map((p) => p.prompt), ["served"]);
  });

  it("reads Claude Code's session id from a large body's metadata, as from a small one", async () => {
    for (const filler of ["", "q".repeat(2 * THRESHOLD)]) {
      const ended = h.cp.ended.length;
      const res = await send(`${h.gateway.url}/anthropic/v1/messages`, {
        headers: { "x-api-key": h.user.key, "user-agent": "claude-cli/2.0.14 (external, cli)", "anthropic-version": "2023-06-01" },
        body: {
          model: "claude-sonnet-4-6",
          max_tokens: 64,
          metadata: { user_id: JSON.stringify({ device_id: "d", session_id: "session-from-body" }) },
          system: filler,
          messages: [{ role: "user", content: "hi" }],
        },
      });
      assert.equal(res.status, 200);
      await waitForEnded(h, ended + 1);
      const interception = h.cp.interceptions.at(-1);
      assert.equal(interception?.client, "Claude Code");
      assert.equal(interception?.clientSessionId, "session-from-body", `${filler.length} bytes of system prompt`);
    }
  });

  it("refuses a large Responses background request as a small one (501)", async () => {
    for (const filler of ["", "b".repeat(2 * THRESHOLD)]) {
      const res = await send(`${h.gateway.url}/openai/v1/responses`, { headers: { authorization: `Bearer ${h.user.key}` }, body: { model: "o4-mini", background: true, instructions: filler, input: "x" } });
      assert.equal(res.status, 501);
      assert.equal(res.headers.get("x-should-retry"), "false");
      assert.deepEqual(
        res.json,
        gatewayErrorBody(
          "openai",
          501,
          "background requests are not supported",
          "The gateway records usage from the answer, and a background response is fetched later on a route it does not record; send it with \"stream\": true or without \"background\".",
        ),
      );
    }
  });
});
