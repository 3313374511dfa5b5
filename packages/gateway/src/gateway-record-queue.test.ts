// Pins the record path through a real gateway and control plane: the request never waits for
// records (API 1.1: not even for its interception start), records go in batches, transient
// failures are retried until delivered (no loss, no duplicates — also when an answer is lost
// after the batch was stored), permanent rejections are dropped and counted, a full queue refuses new requests, and
// metrics expose it all. A long linger keeps one request's records in one batch, so the counts
// below do not depend on timing.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { Gateway } from "./index.js";
import { ANTHROPIC_KEY, GATEWAY_KEY, OPENAI_KEY, captureLogger, eventually, metricValue, send, startHarness, waitForEnded } from "./test-harness.js";
import type { Harness } from "./test-harness.js";

let h: Harness;
before(async () => {
  h = await startHarness({ gateway: { recordBatch: { lingerMs: 200 } } });
});
after(() => h.close());

const chat = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] };
const withTool = { ...chat, tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }] };
const auth = (): Record<string, string> => ({ authorization: `Bearer ${h.user.key}` });

describe("record queue", () => {
  it("answers the client before slow records are delivered, the interception start included", async () => {
    const hold = h.cp.hold("RecordBatch");
    const started = h.cp.interceptions.length;
    const ended = h.cp.ended.length;
    const tokens = h.cp.tokenUsages.length;
    const res = await send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: auth(), body: chat });
    assert.equal(res.status, 200);
    const id = res.headers.get("x-weir-interception-id") ?? "";
    // The client has its answer; the records (start, prompt, token usage, end) are on their way.
    assert.equal(h.cp.interceptions.length, started);
    assert.equal(h.cp.ended.length, ended);
    assert.equal(h.cp.tokenUsages.length, tokens);
    assert.equal(h.gateway.pendingRecords, 4);
    hold.release();
    await waitForEnded(h, ended + 1);
    const rows = h.cp.recordsOf(id);
    assert.ok(rows.interception !== undefined);
    assert.equal(rows.prompts.length, 1);
    assert.equal(rows.tokenUsages.length, 1);
    assert.equal(rows.ended.length, 1);
  });

  it("sends one request's records in one RecordBatch call, in order, with no other RPC", async () => {
    const rpcs = h.cp.rpcCount;
    const batches = h.cp.callsOf("RecordBatch");
    const ended = h.cp.ended.length;
    const res = await send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: auth(), body: withTool });
    assert.equal(res.status, 200);
    await waitForEnded(h, ended + 1);
    // The key is cached: the request cost exactly one RPC, the batch.
    assert.equal(h.cp.callsOf("RecordBatch") - batches, 1);
    assert.equal(h.cp.rpcCount - rpcs, 1);
    const id = res.headers.get("x-weir-interception-id") ?? "";
    assert.deepEqual(
      h.cp.applied.filter((a) => a.interceptionId === id).map((a) => a.kind),
      ["interception", "promptUsage", "tokenUsage", "toolUsage", "interceptionEnded"],
    );
  });

  it("retries transient failures until delivered, exactly once each, ended last — also after an answer was lost", async () => {
    // Two calls refused before storing anything, then one stored whose answer is lost.
    h.cp.failNext("RecordBatch", 2, Code.Unavailable);
    h.cp.failNextAfterApply("RecordBatch", 1, Code.Internal);
    const retried = async (type: string) => metricValue(h.gateway.metrics.recordsRetriedTotal, { type });
    const [retriedTokens, retriedEnded] = [await retried("token_usage"), await retried("interception_ended")];
    const ended = h.cp.ended.length;
    const res = await send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: auth(), body: chat });
    assert.equal(res.status, 200);
    const id = res.headers.get("x-weir-interception-id") ?? "";
    await waitForEnded(h, ended + 1, 10_000);
    const rows = h.cp.recordsOf(id);
    assert.ok(rows.interception !== undefined);
    assert.equal(h.cp.interceptions.filter((i) => i.id === id).length, 1);
    assert.equal(rows.tokenUsages.length, 1);
    assert.equal(rows.prompts.length, 1);
    assert.equal(rows.ended.length, 1);
    assert.equal(h.cp.scriptedFailures.get("RecordBatch"), 3);
    assert.equal((await retried("token_usage")) - retriedTokens, 3);
    assert.equal((await retried("interception_ended")) - retriedEnded, 3);
    // Stored in order: the start first, the end last.
    assert.deepEqual(
      h.cp.applied.filter((a) => a.interceptionId === id).map((a) => a.kind),
      ["interception", "promptUsage", "tokenUsage", "interceptionEnded"],
    );
    await eventually(() => h.gateway.ready, 5_000, "ready again");
  });

  it("drops and counts a record the control plane rejects permanently", async () => {
    h.cp.rejectNextRecords("toolUsage", 1);
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

  // Property: a full queue refuses NEW requests (before any upstream call) and never drops the
  // records of a request already served.
  it("refuses new requests while the queue is full and delivers every record of admitted ones", async () => {
    const small = new Gateway({
      controlPlaneUrl: h.cp.url,
      gatewayKey: GATEWAY_KEY,
      listen: { host: "127.0.0.1", port: 0 },
      openai: { baseUrl: h.emulator.openaiBaseUrl, apiKey: OPENAI_KEY },
      anthropic: { baseUrl: h.emulator.anthropicBaseUrl, apiKey: ANTHROPIC_KEY },
      recordQueueSize: 2,
      logger: captureLogger().logger,
    });
    await small.start();
    try {
      const hold = h.cp.hold("RecordBatch");
      const res = await send(`${small.url}/openai/v1/chat/completions`, { headers: auth(), body: chat });
      assert.equal(res.status, 200);
      // Start, prompt, token usage and end are all kept, beyond the bound of 2.
      await eventually(() => small.pendingRecords === 4, 5_000, "all four records queued");
      assert.equal(await metricValue(small.metrics.recordQueueDepth, {}), 4);
      const upstreamBefore = h.emulator.requests.length;
      const refused = await send(`${small.url}/openai/v1/chat/completions`, { headers: auth(), body: chat });
      assert.equal(refused.status, 500);
      assert.equal(h.emulator.requests.length, upstreamBefore, "a refused request never reaches upstream");
      assert.equal(await metricValue(small.metrics.recordsDroppedTotal, { type: "interception", reason: "overflow" }), 1);
      assert.equal(await metricValue(small.metrics.recordsDroppedTotal, { type: "token_usage", reason: "overflow" }), 0);
      hold.release();
      await eventually(() => small.pendingRecords === 0, 5_000, "queue drained");
      assert.equal(await metricValue(small.metrics.recordQueueDepth, {}), 0);
      const rows = h.cp.recordsOf(res.headers.get("x-weir-interception-id") ?? "");
      assert.ok(rows.interception !== undefined);
      assert.equal(rows.prompts.length, 1);
      assert.equal(rows.tokenUsages.length, 1);
      assert.equal(rows.ended.length, 1);
      // Room again: the next request is admitted.
      assert.equal((await send(`${small.url}/openai/v1/chat/completions`, { headers: auth(), body: chat })).status, 200);
    } finally {
      await small.shutdown();
    }
  });
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
