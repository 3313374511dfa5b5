// Pins streaming behaviour end to end: events keep their upstream timing (never buffered), a
// stream that dies mid-way ends with the API's own error event (never a fake clean end), an
// upstream that dies before the first byte gets a provider-shaped 502, a client that goes
// away cancels the upstream request, and every case still ends its interception.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { pino } from "pino";
import { Gateway, SseParser } from "./index.js";
import type { SseEvent } from "./index.js";
import { ANTHROPIC_KEY, GATEWAY_KEY, OPENAI_KEY, eventually, startHarness, waitForEnded } from "./test-harness.js";
import type { Harness } from "./test-harness.js";

let h: Harness;
let slowGateway: Gateway;
before(async () => {
  // The fake control plane shares this process (and its event loop) with the gateway and the
  // client measuring event timing; records are batched after the streams here so its work on
  // them does not skew the measured gaps on a busy machine (a real control plane runs in its
  // own process).
  h = await startHarness({ gateway: { recordBatch: { lingerMs: 1_000 } } });
  // A second gateway on the same control plane and upstream, with a short upstream deadline.
  slowGateway = new Gateway({
    controlPlaneUrl: h.cp.url,
    gatewayKey: GATEWAY_KEY,
    listen: { host: "127.0.0.1", port: 0 },
    openai: { baseUrl: h.emulator.openaiBaseUrl, apiKey: OPENAI_KEY },
    anthropic: { baseUrl: h.emulator.anthropicBaseUrl, apiKey: ANTHROPIC_KEY },
    upstreamTimeoutMs: 300,
    logger: pino({ level: "silent" }),
  });
  await slowGateway.start();
});
after(async () => {
  await slowGateway.shutdown();
  await h.close();
});

interface Api {
  name: string;
  path: string;
  body: Record<string, unknown>;
}

const APIS: Api[] = [
  { name: "openai chat", path: "/openai/v1/chat/completions", body: { model: "gpt-4o", stream: true, messages: [{ role: "user", content: "hi" }] } },
  { name: "openai responses", path: "/openai/v1/responses", body: { model: "gpt-4o", stream: true, input: "hi" } },
  { name: "anthropic messages", path: "/anthropic/v1/messages", body: { model: "claude-sonnet-4-6", max_tokens: 64, stream: true, messages: [{ role: "user", content: "hi" }] } },
];

interface TimedEvent {
  event: SseEvent;
  at: number;
}

/** Streams a request and timestamps every SSE event as it arrives. */
async function streamEvents(
  url: string,
  body: unknown,
  headers: Record<string, string>,
  options: { abortAfterEvents?: number } = {},
): Promise<{ status: number; headers: Headers; events: TimedEvent[]; text: string }> {
  const controller = new AbortController();
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${h.user.key}`, ...headers },
    body: JSON.stringify(body),
    signal: controller.signal,
  });
  const events: TimedEvent[] = [];
  let text = "";
  if (res.body === null) return { status: res.status, headers: res.headers, events, text };
  const parser = new SseParser();
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      const at = performance.now();
      for (const event of parser.push(value)) events.push({ event, at });
      if (options.abortAfterEvents !== undefined && events.length >= options.abortAfterEvents) {
        controller.abort();
        break;
      }
    }
  } catch (err) {
    if (options.abortAfterEvents === undefined) throw err;
  }
  return { status: res.status, headers: res.headers, events, text };
}

describe("stream timing", () => {
  for (const api of APIS) {
    it(`${api.name}: events 100 ms apart upstream arrive at least 60 ms apart`, async () => {
      const got = await streamEvents(`${h.gateway.url}${api.path}`, api.body, { "x-emulator-event-delay-ms": "100", "x-emulator-events": "4" });
      assert.equal(got.status, 200);
      assert.equal(got.headers.get("content-type"), "text/event-stream");
      assert.equal(got.headers.get("cache-control"), "no-cache");
      assert.equal(got.headers.get("x-accel-buffering"), "no");
      assert.ok(got.events.length >= 6, `only ${got.events.length} events`);
      for (let i = 1; i < got.events.length; i++) {
        const gap = (got.events[i]?.at ?? 0) - (got.events[i - 1]?.at ?? 0);
        assert.ok(gap >= 60, `gap ${i} was ${gap.toFixed(1)} ms`);
      }
    });
  }
});

describe("upstream dies mid-stream", () => {
  const cases = [
    {
      api: APIS[0] as Api,
      check: (last: SseEvent, all: string) => {
        assert.equal(last.event, undefined);
        const data = JSON.parse(last.data ?? "null") as { error?: { message?: string; type?: string } };
        assert.equal(data.error?.type, "server_error");
        assert.equal(data.error?.message, "upstream connection failed");
        assert.ok(!all.includes("[DONE]"));
      },
    },
    {
      api: APIS[1] as Api,
      check: (last: SseEvent, all: string) => {
        assert.equal(last.event, "response.failed");
        const data = JSON.parse(last.data ?? "null") as { type: string; sequence_number: number; response: { status: string; error: { code: string; message: string }; id: string } };
        assert.equal(data.type, "response.failed");
        assert.equal(data.sequence_number, 3);
        assert.equal(data.response.status, "failed");
        assert.deepEqual(data.response.error, { code: "server_error", message: "upstream connection failed" });
        assert.match(data.response.id, /^resp_/);
        assert.ok(!all.includes("response.completed"));
      },
    },
    {
      api: APIS[2] as Api,
      check: (last: SseEvent, all: string) => {
        assert.equal(last.event, "error");
        const data = JSON.parse(last.data ?? "null") as { type: string; error: { type: string; message: string } };
        assert.equal(data.type, "error");
        assert.deepEqual(data.error, { type: "api_error", message: "upstream connection failed" });
        assert.ok(!all.includes("message_stop"));
      },
    },
  ];
  for (const c of cases) {
    it(`${c.api.name}: ends with the API's error event and upstream_disconnected`, async () => {
      const ended = h.cp.ended.length;
      const got = await streamEvents(`${h.gateway.url}${c.api.path}`, c.api.body, { "x-emulator-disconnect-after": "3" });
      assert.equal(got.status, 200);
      assert.equal(got.events.length, 4, got.text);
      const last = got.events.at(-1)?.event;
      assert.ok(last !== undefined);
      c.check(last, got.text);
      await waitForEnded(h, ended + 1);
      const rows = h.cp.recordsOf(h.cp.interceptions.at(-1)?.id ?? "");
      assert.equal(rows.ended.length, 1);
      assert.equal(rows.ended[0]?.errorType, "upstream_disconnected");
      assert.match(rows.ended[0]?.errorMessage ?? "", /^upstream connection failed: /);
    });
  }

  it("the official SDKs raise an error instead of ending quietly", async () => {
    const openai = new OpenAI({ baseURL: `${h.gateway.url}/openai/v1`, apiKey: h.user.key, maxRetries: 0 });
    const anthropic = new Anthropic({ baseURL: `${h.gateway.url}/anthropic`, apiKey: h.user.key, maxRetries: 0 });
    const broken = { headers: { "x-emulator-disconnect-after": "3" } };
    await assert.rejects(async () => {
      const stream = await openai.chat.completions.create({ model: "gpt-4o", stream: true, messages: [{ role: "user", content: "hi" }] }, broken);
      for await (const _ of stream);
    });
    await assert.rejects(async () => {
      const stream = await anthropic.messages.create({ model: "claude-sonnet-4-6", max_tokens: 64, stream: true, messages: [{ role: "user", content: "hi" }] }, broken);
      for await (const _ of stream);
    });
  });
});

describe("upstream dies before the first byte", () => {
  const cases = [
    { api: APIS[0] as Api, want: (m: string) => ({ error: { message: m, type: "server_error", param: null, code: null } }) },
    { api: APIS[1] as Api, want: (m: string) => ({ error: { message: m, type: "server_error", param: null, code: null } }) },
    { api: APIS[2] as Api, want: (m: string) => ({ type: "error", error: { type: "api_error", message: m } }) },
  ];
  for (const c of cases) {
    it(`${c.api.name}: a provider-shaped 502 instead of a stream`, async () => {
      const ended = h.cp.ended.length;
      const res = await fetch(`${h.gateway.url}${c.api.path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${h.user.key}`, "x-emulator-disconnect-after": "0" },
        body: JSON.stringify(c.api.body),
      });
      assert.equal(res.status, 502);
      assert.equal(res.headers.get("content-type"), "application/json");
      const body = (await res.json()) as unknown;
      await waitForEnded(h, ended + 1);
      const end = h.cp.ended.at(-1);
      assert.equal(end?.errorType, "upstream_disconnected");
      assert.deepEqual(body, c.want("upstream connection failed"));
      assert.match(end?.errorMessage ?? "", /^upstream connection failed: ./);
    });
  }

  it("blocking request whose upstream drops the connection: 502", async () => {
    const ended = h.cp.ended.length;
    const res = await fetch(`${h.gateway.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${h.user.key}`, "x-emulator-disconnect-after": "0" },
      body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(res.status, 502);
    const body = (await res.json()) as { error: { type: string } };
    assert.equal(body.error.type, "server_error");
    await waitForEnded(h, ended + 1);
    assert.equal(h.cp.ended.at(-1)?.errorType, "upstream_disconnected");
  });
});

describe("client goes away mid-stream", () => {
  for (const api of APIS) {
    it(`${api.name}: the upstream request is aborted and the interception ends client_disconnected`, async () => {
      const ended = h.cp.ended.length;
      const upstreamBefore = h.emulator.requests.length;
      const got = await streamEvents(`${h.gateway.url}${api.path}`, api.body, { "x-emulator-event-delay-ms": "200", "x-emulator-events": "20" }, { abortAfterEvents: 2 });
      assert.equal(got.events.length >= 2, true);
      await eventually(() => h.emulator.requests.length === upstreamBefore + 1 && h.emulator.requests.at(-1)?.aborted === true, 5_000, "upstream aborted");
      await waitForEnded(h, ended + 1);
      const end = h.cp.ended.at(-1);
      assert.equal(end?.errorType, "client_disconnected");
      assert.equal(h.emulator.requests.at(-1)?.finished, false);
    });
  }
});

describe("upstream timeout", () => {
  it("mid-stream: ends with the error event and records timeout", async () => {
    const ended = h.cp.ended.length;
    const res = await fetch(`${slowGateway.url}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": h.user.key, "x-emulator-event-delay-ms": "1000" },
      body: JSON.stringify(APIS[2]?.body),
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    const events = new SseParser().push(text);
    assert.equal(events.at(-1)?.event, "error");
    assert.deepEqual(JSON.parse(events.at(-1)?.data ?? "null"), { type: "error", error: { type: "api_error", message: "upstream request timed out after 300 ms" } });
    await waitForEnded(h, ended + 1);
    assert.equal(h.cp.ended.at(-1)?.errorType, "timeout");
  });

  it("before the first byte: 504 in the provider's shape", async () => {
    const ended = h.cp.ended.length;
    const res = await fetch(`${slowGateway.url}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${h.user.key}`, "x-emulator-ttfb-ms": "2000" },
      body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(res.status, 504);
    assert.deepEqual(await res.json(), { error: { message: "upstream request timed out after 300 ms", type: "server_error", param: null, code: null } });
    await waitForEnded(h, ended + 1);
    assert.equal(h.cp.ended.at(-1)?.errorType, "timeout");
  });
});
