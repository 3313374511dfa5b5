// Pins the follow-up record path through a real gateway and control plane: the request never
// waits for records, transient failures are retried until delivered (no loss, no duplicates),
// permanent failures and overflow are dropped and counted, and metrics expose it all.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { Gateway } from "./index.js";
import { ANTHROPIC_KEY, GATEWAY_KEY, OPENAI_KEY, captureLogger, eventually, metricValue, send, startHarness, waitForEnded } from "./test-harness.js";
import type { Harness } from "./test-harness.js";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

const chat = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] };
const withTool = { ...chat, tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }] };
const auth = (): Record<string, string> => ({ authorization: `Bearer ${h.user.key}` });

describe("record queue", () => {
  it("answers the client before slow records are delivered", async () => {
    const hold = h.cp.hold("RecordPromptUsage");
    const ended = h.cp.ended.length;
    const tokens = h.cp.tokenUsages.length;
    const res = await send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: auth(), body: chat });
    assert.equal(res.status, 200);
    const id = res.headers.get("x-weir-interception-id") ?? "";
    // The client has its answer; the records are still on their way.
    assert.equal(h.cp.ended.length, ended);
    assert.equal(h.cp.tokenUsages.length, tokens);
    assert.equal(h.gateway.pendingRecords, 3);
    hold.release();
    await waitForEnded(h, ended + 1);
    const rows = h.cp.recordsOf(id);
    assert.equal(rows.prompts.length, 1);
    assert.equal(rows.tokenUsages.length, 1);
    assert.equal(rows.ended.length, 1);
  });

  it("retries transient failures until delivered, exactly once each, ended last", async () => {
    h.cp.failNext("RecordTokenUsage", 3, Code.Unavailable);
    h.cp.failNext("RecordInterceptionEnded", 2, Code.Internal);
    const retriedTokens = await metricValue(h.gateway.metrics.recordsRetriedTotal, { type: "token_usage" });
    const retriedEnded = await metricValue(h.gateway.metrics.recordsRetriedTotal, { type: "interception_ended" });
    const ended = h.cp.ended.length;
    const res = await send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: auth(), body: chat });
    assert.equal(res.status, 200);
    const id = res.headers.get("x-weir-interception-id") ?? "";
    await waitForEnded(h, ended + 1, 10_000);
    const rows = h.cp.recordsOf(id);
    assert.equal(rows.tokenUsages.length, 1);
    assert.equal(rows.prompts.length, 1);
    assert.equal(rows.ended.length, 1);
    assert.equal(h.cp.scriptedFailures.get("RecordTokenUsage"), 3);
    assert.equal(h.cp.scriptedFailures.get("RecordInterceptionEnded"), 2);
    assert.equal((await metricValue(h.gateway.metrics.recordsRetriedTotal, { type: "token_usage" })) - retriedTokens, 3);
    assert.equal((await metricValue(h.gateway.metrics.recordsRetriedTotal, { type: "interception_ended" })) - retriedEnded, 2);
    // Ended was delivered after the token usage it waited for.
    const endedAt = h.cp.calls.findLastIndex((c) => c.method === "RecordInterceptionEnded");
    const tokensAt = h.cp.calls.findLastIndex((c) => c.method === "RecordTokenUsage");
    assert.ok(tokensAt < endedAt);
    await eventually(() => h.gateway.ready, 5_000, "ready again");
  });

  it("drops and counts a record the control plane rejects permanently", async () => {
    h.cp.failNext("RecordToolUsage", 1, Code.InvalidArgument);
    const dropped = await metricValue(h.gateway.metrics.recordsDroppedTotal, { type: "tool_usage", reason: "permanent" });
    const ended = h.cp.ended.length;
    const res = await send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: auth(), body: withTool });
    assert.equal(res.status, 200);
    await waitForEnded(h, ended + 1);
    const rows = h.cp.recordsOf(res.headers.get("x-weir-interception-id") ?? "");
    assert.equal(rows.toolUsages.length, 0);
    assert.equal(rows.ended.length, 1);
    assert.equal((await metricValue(h.gateway.metrics.recordsDroppedTotal, { type: "tool_usage", reason: "permanent" })) - dropped, 1);
  });

  it("drops and counts records beyond the queue size without failing the request", async () => {
    const { logger, lines } = captureLogger();
    const small = new Gateway({
      controlPlaneUrl: h.cp.url,
      gatewayKey: GATEWAY_KEY,
      listen: { host: "127.0.0.1", port: 0 },
      openai: { baseUrl: h.emulator.openaiBaseUrl, apiKey: OPENAI_KEY },
      anthropic: { baseUrl: h.emulator.anthropicBaseUrl, apiKey: ANTHROPIC_KEY },
      recordQueueSize: 2,
      logger,
    });
    await small.start();
    try {
      const hold = h.cp.hold("RecordPromptUsage");
      const res = await send(`${small.url}/openai/v1/chat/completions`, { headers: auth(), body: chat });
      assert.equal(res.status, 200);
      // prompt (held) + token usage fit; the end does not.
      assert.equal(await metricValue(small.metrics.recordsDroppedTotal, { type: "interception_ended", reason: "overflow" }), 1);
      assert.equal(small.pendingRecords, 2);
      const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "dropping follow-up record");
      assert.deepEqual(
        logged.map((l) => [l.level, l.record_type, l.reason]),
        [[50, "interception_ended", "overflow"]],
      );
      hold.release();
      await eventually(() => small.pendingRecords === 0, 5_000, "queue drained");
      const rows = h.cp.recordsOf(res.headers.get("x-weir-interception-id") ?? "");
      assert.equal(rows.prompts.length, 1);
      assert.equal(rows.tokenUsages.length, 1);
      assert.equal(rows.ended.length, 0);
    } finally {
      await small.shutdown();
    }
  });
});

describe("metrics", () => {
  it("exposes the gateway's counters on /metrics", async () => {
    const res = await send(`${h.gateway.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
    assert.match(res.text, /weir_gateway_interceptions_total\{provider="openai",model="gpt-4o",status="completed",route="\/openai\/v1\/chat\/completions"\} \d+/);
    assert.match(res.text, /weir_gateway_tokens_total\{provider="openai",model="gpt-4o",type="cache_read"\} \d+/);
    assert.match(res.text, /weir_gateway_records_dropped_total\{type="tool_usage",reason="permanent"\} 1/);
    assert.match(res.text, /weir_gateway_records_retried_total\{type="token_usage"\} 3/);
    assert.match(res.text, /weir_gateway_authorizations_total\{outcome="allowed"\} \d+/);
    assert.match(res.text, /weir_gateway_interceptions_inflight\{provider="openai",route="\/openai\/v1\/chat\/completions"\} 0/);
    assert.match(res.text, /weir_gateway_control_plane_ready 1/);
  });

  it("counts tokens exactly", async () => {
    const before = await metricValue(h.gateway.metrics.tokensTotal, { provider: "anthropic", type: "cache_write" });
    const ended = h.cp.ended.length;
    await send(`${h.gateway.url}/anthropic/v1/messages`, {
      headers: { "x-api-key": h.user.key },
      body: { model: "claude-sonnet-4-6", max_tokens: 16, stream: true, messages: [{ role: "user", content: "hi" }] },
    });
    await waitForEnded(h, ended + 1);
    assert.equal((await metricValue(h.gateway.metrics.tokensTotal, { provider: "anthropic", type: "cache_write" })) - before, 40);
  });
});
