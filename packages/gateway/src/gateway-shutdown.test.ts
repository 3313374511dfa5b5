// Pins graceful shutdown: in-flight streams finish (or are cut at the deadline with the API's
// error event), queued records are flushed within a bound, shutdown is idempotent, and
// afterwards nothing is left open — this file's process must exit on its own.

import assert from "node:assert/strict";
import { Code } from "@connectrpc/connect";
import { after, describe, it } from "node:test";
import { SseParser } from "./index.js";
import { eventually, metricValue, startHarness, waitForEnded } from "./test-harness.js";
import type { Harness, HarnessOptions } from "./test-harness.js";

const harnesses: Harness[] = [];
after(async () => {
  for (const h of harnesses) await h.close();
});

async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const h = await startHarness(options);
  harnesses.push(h);
  return h;
}

/** Starts a stream and resolves once the first event arrived; `rest` reads the remainder. */
async function openStream(h: Harness, path: string, body: unknown, headers: Record<string, string>): Promise<{ first: string; rest: Promise<string> }> {
  const res = await fetch(`${h.gateway.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${h.user.key}`, ...headers },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  const reader = res.body?.getReader();
  assert.ok(reader !== undefined);
  const decoder = new TextDecoder();
  let text = "";
  while (new SseParser().push(text).length === 0) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  const first = text;
  const rest = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text;
      text += decoder.decode(value, { stream: true });
    }
  })();
  return { first, rest };
}

const chat = { model: "gpt-4o", stream: true, messages: [{ role: "user", content: "hi" }] };
const messages = { model: "claude-sonnet-4-6", max_tokens: 64, stream: true, messages: [{ role: "user", content: "hi" }] };

describe("shutdown", () => {
  it("lets an in-flight stream finish, flushes its records, then refuses connections", async () => {
    const h = await harness();
    const url = h.gateway.url;
    const stream = await openStream(h, "/openai/v1/chat/completions", chat, { "x-emulator-event-delay-ms": "100", "x-emulator-events": "5" });
    const stopping = h.gateway.shutdown();
    const text = await stream.rest;
    assert.ok(text.endsWith("data: [DONE]\n\n"), "the stream completed normally");
    await stopping;
    assert.equal(h.gateway.state, "stopped");
    assert.equal(h.cp.ended.length, 1);
    assert.equal(h.cp.ended[0]?.errorType, undefined);
    assert.equal(h.cp.tokenUsages.length, 1);
    await assert.rejects(fetch(`${url}/healthz`));
  });

  it("cuts a stream still running at the deadline with the API's error event", async () => {
    const h = await harness({ gateway: { shutdownTimeoutMs: 300 } });
    const stream = await openStream(h, "/anthropic/v1/messages", messages, { "x-emulator-event-delay-ms": "200", "x-emulator-events": "50" });
    await h.gateway.shutdown();
    const text = await stream.rest;
    const last = new SseParser().push(text).at(-1);
    assert.equal(last?.event, "error");
    assert.deepEqual(JSON.parse(last?.data ?? "null"), { type: "error", error: { type: "api_error", message: "gateway shut down before the response completed" } });
    assert.ok(!text.includes("message_stop"));
    assert.equal(h.cp.ended.length, 1);
    assert.equal(h.cp.ended[0]?.errorType, "internal");
    await eventually(() => h.emulator.requests[0]?.aborted === true, 5_000, "upstream aborted");
  });

  it("waits for queued records to be delivered", async () => {
    const h = await harness();
    const batches = h.cp.callsOf("RecordBatch");
    const hold = h.cp.hold("RecordBatch");
    const res = await fetch(`${h.gateway.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${h.user.key}` },
      body: JSON.stringify({ ...chat, stream: false }),
    });
    assert.equal(res.status, 200);
    await res.text();
    await h.cp.waitFor(() => h.cp.callsOf("RecordBatch") > batches, 5_000, "a record batch in flight");
    const stopping = h.gateway.shutdown();
    assert.equal(h.cp.ended.length, 0);
    hold.release();
    await stopping;
    assert.equal(h.cp.tokenUsages.length, 1);
    assert.equal(h.cp.ended.length, 1);
  });

  it("gives up on undeliverable records at the flush deadline, counting them", async () => {
    const h = await harness({ gateway: { recordFlushTimeoutMs: 200 } });
    const batches = h.cp.callsOf("RecordBatch");
    h.cp.hold("RecordBatch");
    const res = await fetch(`${h.gateway.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${h.user.key}` },
      body: JSON.stringify({ ...chat, stream: false }),
    });
    await res.text();
    await h.cp.waitFor(() => h.cp.callsOf("RecordBatch") > batches, 5_000, "a record batch in flight");
    await h.gateway.shutdown();
    assert.equal(h.cp.ended.length, 0);
    // The start, the prompt, the token usage and the end.
    assert.equal(await metricValue(h.gateway.metrics.recordsDroppedTotal, { reason: "shutdown" }), 4);
  });

  // As when the gateway key is deleted under running requests: the records are refused for good.
  it("reports records the control plane refused during the run, not just those left at the deadline", async () => {
    const h = await harness();
    h.cp.failNext("RecordBatch", 1, Code.InvalidArgument);
    const res = await fetch(`${h.gateway.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${h.user.key}` },
      body: JSON.stringify({ ...chat, stream: false }),
    });
    await res.text();
    await eventually(async () => (await metricValue(h.gateway.metrics.recordsDroppedTotal, { reason: "permanent" })) > 0, 5_000, "a refused batch");
    const refused = await metricValue(h.gateway.metrics.recordsDroppedTotal, { reason: "permanent" });
    await h.gateway.shutdown();
    const summary = h.logs.map((l) => JSON.parse(l)).find((l) => l.msg === "records the control plane refused were dropped during this run");
    assert.equal(summary?.rejected, refused, h.logs.join(""));
    assert.equal(summary?.level, 50);
  });

  it("is idempotent", async () => {
    const h = await harness();
    const first = h.gateway.shutdown();
    const second = h.gateway.shutdown();
    assert.equal(first, second);
    await first;
    await h.gateway.shutdown();
    assert.equal(h.gateway.state, "stopped");
    assert.equal(h.gateway.ready, false);
  });

  it("ends the interception of a request whose records were queued before shutdown", async () => {
    const h = await harness();
    const res = await fetch(`${h.gateway.url}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": h.user.key },
      body: JSON.stringify({ ...messages, stream: false }),
    });
    await res.text();
    await h.gateway.shutdown();
    await waitForEnded(h, 1);
    assert.equal(h.gateway.pendingRecords, 0);
  });
});
