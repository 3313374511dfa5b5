// Pins streaming behaviour end to end: each event is forwarded before the upstream sends the
// next (never buffered), a stream that dies mid-way ends with the API's own error event (never a
// fake clean end), an upstream that dies before the first byte gets a provider-shaped 502, a
// client that goes away cancels the upstream request, and every case still ends its interception.

import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
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
  h = await startHarness();
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

/**
 * An upstream that holds every SSE frame after the first until the test releases it. A client
 * that sees frame i before frame i+1 exists upstream proves the gateway forwarded frame i on
 * its own, with no timing threshold a busy machine could trip.
 */
class SteppedUpstream {
  readonly server = createServer((req, res) => void this.serve(req.url ?? "", res));
  private readonly frames = new Map<string, readonly string[]>();
  private readonly waiting: Array<() => void> = [];
  private released = 0;

  /** Serves, for `path`, the frames a real stream split into (terminators kept). */
  script(path: string, stream: string): readonly string[] {
    const frames = stream.split("\n\n").filter((f) => f !== "").map((f) => `${f}\n\n`);
    this.frames.set(path, frames);
    // A stream a failed test left held keeps nothing that could release the next test's frames.
    this.waiting.length = 0;
    this.released = 0;
    return frames;
  }

  /** Lets the upstream write its next frame. */
  release(): void {
    const next = this.waiting.shift();
    if (next === undefined) this.released += 1;
    else next();
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async serve(path: string, res: ServerResponse): Promise<void> {
    const frames = this.frames.get(path) ?? [];
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    for (const [i, frame] of frames.entries()) {
      if (i > 0) await this.nextRelease();
      res.write(frame);
    }
    res.end();
  }

  private nextRelease(): Promise<void> {
    if (this.released > 0) {
      this.released -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

/** Rejects when `promise` has not settled within `ms`, so a buffered frame fails with a message, not a hang. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} (waited ${ms} ms)`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

describe("stream forwarding", () => {
  const upstream = new SteppedUpstream();
  let stepped: Gateway;
  before(async () => {
    await new Promise<void>((resolve) => upstream.server.listen(0, "127.0.0.1", resolve));
    stepped = new Gateway({
      controlPlaneUrl: h.cp.url,
      gatewayKey: GATEWAY_KEY,
      listen: { host: "127.0.0.1", port: 0 },
      openai: { baseUrl: `${upstream.url}/openai/v1`, apiKey: OPENAI_KEY },
      anthropic: { baseUrl: `${upstream.url}/anthropic`, apiKey: ANTHROPIC_KEY },
      logger: pino({ level: "silent" }),
    });
    await stepped.start();
  });
  after(async () => {
    // Dropping the upstream first ends any stream a failed test left held, so shutdown is quick.
    upstream.server.closeAllConnections();
    await stepped.shutdown();
    await new Promise((resolve) => upstream.server.close(resolve));
  });

  for (const api of APIS) {
    it(`${api.name}: every event reaches the client before the upstream writes the next, bytes unchanged`, async () => {
      // A real stream from the emulator, replayed by the stepped upstream one frame at a time.
      // The gateway maps its routes onto the upstream's base URLs, so both serve the same paths.
      const recorded = await fetch(`${h.emulator.url}${api.path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${OPENAI_KEY}`, "x-emulator-events": "4" },
        body: JSON.stringify(api.body),
      });
      assert.equal(recorded.status, 200);
      const frames = upstream.script(api.path, await recorded.text());
      assert.ok(frames.length >= 6, `only ${frames.length} frames`);

      const client = new AbortController();
      try {
        const res = await within(
          fetch(`${stepped.url}${api.path}`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${h.user.key}` },
            body: JSON.stringify(api.body),
            signal: client.signal,
          }),
          10_000,
          "the response headers did not reach the client while the upstream held frame 1",
        );
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("content-type"), "text/event-stream");
        assert.equal(res.headers.get("cache-control"), "no-cache");
        assert.equal(res.headers.get("x-accel-buffering"), "no");
        assert.ok(res.body !== null);
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let text = "";
        for (let i = 0; i < frames.length; i++) {
          // The upstream has written frames 0..i and holds the rest.
          const sent = frames.slice(0, i + 1).join("");
          while (text.length < sent.length) {
            const { done, value } = await within(reader.read(), 10_000, `frame ${i} of ${frames.length} did not reach the client while the upstream held the next`);
            assert.equal(done, false, `stream ended after ${text.length} bytes`);
            text += decoder.decode(value, { stream: true });
          }
          assert.equal(text, sent, `bytes after frame ${i}`);
          if (i + 1 < frames.length) upstream.release();
        }
        assert.equal((await reader.read()).done, true);
      } finally {
        client.abort();
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
      // The gateway's own answer names the interception it recorded, as a relayed one does.
      assert.equal(res.headers.get("x-weir-interception-id"), end?.id);
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
    assert.equal(res.headers.get("x-weir-interception-id"), h.cp.ended.at(-1)?.id);
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

describe("a client that leaves once it has the stream's last event", () => {
  // A provider stand-in that sends a whole stream (or one ending in its own error event) and
  // then keeps its body open: an SDK that has what it needs closes the connection before the
  // provider's body ends, and the interception must say how the answer ended, not that the
  // client left.
  const sse = (events: readonly object[]): string => events.map((e) => `${"type" in e ? `event: ${String(e.type)}\n` : ""}data: ${JSON.stringify(e)}\n\n`).join("");
  const STREAMS: Record<string, string> = {
    "/v1/chat/completions": `${sse([
      { id: "chatcmpl-left", object: "chat.completion.chunk", created: 0, model: "gpt-4o", choices: [{ index: 0, delta: { role: "assistant", content: "Hello" }, finish_reason: null }] },
      { id: "chatcmpl-left", object: "chat.completion.chunk", created: 0, model: "gpt-4o", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
      { id: "chatcmpl-left", object: "chat.completion.chunk", created: 0, model: "gpt-4o", choices: [], usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 } },
    ])}data: [DONE]\n\n`,
    "/v1/responses": sse([
      { type: "response.created", sequence_number: 0, response: { id: "resp_left", object: "response", status: "in_progress", output: [] } },
      { type: "response.completed", sequence_number: 1, response: { id: "resp_left", object: "response", status: "completed", output: [], usage: { input_tokens: 11, output_tokens: 7, total_tokens: 18 } } },
    ]),
    "/v1/messages": sse([
      { type: "message_start", message: { id: "msg_left", type: "message", role: "assistant", model: "claude-sonnet-4-5", content: [], usage: { input_tokens: 11, output_tokens: 1 } } },
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hello" } },
      { type: "content_block_stop", index: 0 },
      { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 7 } },
      { type: "message_stop" },
    ]),
    overloaded: sse([
      { type: "message_start", message: { id: "msg_overloaded", type: "message", role: "assistant", model: "claude-sonnet-4-5", content: [], usage: { input_tokens: 11, output_tokens: 1 } } },
      { type: "error", error: { type: "overloaded_error", message: "Overloaded" } },
    ]),
  };
  let upstream: ReturnType<typeof createServer>;
  let left: Harness;
  before(async () => {
    upstream = createServer((req, res) => {
      req.resume();
      const path = (req.url ?? "").replace(/^\/anthropic/, "");
      const scenario = req.headers["x-scenario"];
      const whole = scenario === "overloaded" ? STREAMS.overloaded : STREAMS[path];
      // "partial": the first event only, the rest held back.
      const stream = scenario === "partial" ? whole?.slice(0, whole.indexOf("\n\n") + 2) : whole;
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(stream ?? "");
      // The body ends long after the client has left (or never, if it stays).
      const timer = setTimeout(() => res.end(), 10_000);
      res.on("close", () => clearTimeout(timer));
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    left = await startHarness({ gateway: { openai: { baseUrl: `${base}/v1`, apiKey: OPENAI_KEY }, anthropic: { baseUrl: base, apiKey: ANTHROPIC_KEY } } });
  });
  after(async () => {
    await left?.close();
    upstream?.closeAllConnections();
    await new Promise<void>((resolve) => upstream?.close(() => resolve()));
  });

  const openai = () => new OpenAI({ apiKey: left.user.key, baseURL: `${left.gateway.url}/openai/v1`, maxRetries: 0 });
  const anthropic = (headers: Record<string, string> = {}) =>
    new Anthropic({ apiKey: left.user.key, baseURL: `${left.gateway.url}/anthropic`, maxRetries: 0, defaultHeaders: headers });
  const lastEnd = async (before: number) => {
    await waitForEnded(left, before + 1);
    const end = left.cp.ended.at(-1);
    return { errorType: end?.errorType ?? "", errorMessage: end?.errorMessage ?? "", usage: left.cp.tokenUsages.filter((u) => u.interceptionId === end?.id).map((u) => [u.inputTokens, u.outputTokens]) };
  };

  it("openai chat: leaving after the usage chunk, before the provider's body ends, is a whole answer", async () => {
    const before = left.cp.ended.length;
    const stream = await openai().chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }], stream: true, stream_options: { include_usage: true } });
    for await (const chunk of stream) if (chunk.usage) break;
    assert.deepEqual(await lastEnd(before), { errorType: "", errorMessage: "", usage: [[11n, 7n]] });
  });

  it("openai responses: leaving after response.completed is a whole answer", async () => {
    const before = left.cp.ended.length;
    const stream = await openai().responses.create({ model: "gpt-4o", input: "hi", stream: true });
    for await (const event of stream) if (event.type === "response.completed") break;
    assert.deepEqual(await lastEnd(before), { errorType: "", errorMessage: "", usage: [[11n, 7n]] });
  });

  it("anthropic: leaving after message_stop is a whole answer", async () => {
    const before = left.cp.ended.length;
    const stream = await anthropic().messages.create({ model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: "hi" }], stream: true });
    for await (const event of stream) if (event.type === "message_stop") break;
    assert.deepEqual(await lastEnd(before), { errorType: "", errorMessage: "", usage: [[11n, 7n]] });
  });

  it("anthropic: the SDK leaving on the provider's error event records the provider's error", async () => {
    const before = left.cp.ended.length;
    const stream = await anthropic({ "x-scenario": "overloaded" }).messages.create({ model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: "hi" }], stream: true });
    await assert.rejects(async () => {
      for await (const _ of stream);
    }, /Overloaded/);
    const end = await lastEnd(before);
    assert.equal(end.errorType, "upstream_error");
    assert.match(end.errorMessage, /overloaded_error/);
  });

  it("leaving before the last event is still the client's doing", async () => {
    const before = left.cp.ended.length;
    const stream = await openai().chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }], stream: true }, { headers: { "x-scenario": "partial" } });
    for await (const _ of stream) break;
    assert.deepEqual((await lastEnd(before)).errorType, "client_disconnected");
  });
});

describe("an upstream event that never ends", () => {
  it("is cut at the event limit: the client gets the API's error event and the upstream is let go", { timeout: 30_000 }, async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    const upstream = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`event: message_start\ndata: ${JSON.stringify({ type: "message_start", message: { id: "msg_big", usage: { input_tokens: 3, output_tokens: 1 } } })}\n\n`);
      res.write("event: content_block_start\ndata: {\"doc\":\"");
      // 16 KiB chunks, no newline, until the gateway lets go.
      const chunk = "x".repeat(16 * 1024);
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once("drain", pump);
      };
      res.once("close", upstreamClosed);
      pump();
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const limited = await startHarness({
      gateway: { maxUpstreamEventChars: 256 * 1024, anthropic: { baseUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, apiKey: ANTHROPIC_KEY } },
    });
    try {
      const res = await fetch(`${limited.gateway.url}/anthropic/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": limited.user.key },
        body: JSON.stringify(APIS[2]?.body),
      });
      assert.equal(res.status, 200);
      const events = new SseParser().push(await res.text());
      assert.deepEqual(events.map((e) => e.event), ["message_start", "error"]);
      assert.deepEqual(JSON.parse(events[1]?.data ?? "null"), { type: "error", error: { type: "api_error", message: "upstream event too large" } });
      await closed;
      await waitForEnded(limited, 1);
      assert.equal(limited.cp.ended[0]?.errorType, "upstream_disconnected");
      assert.equal(limited.cp.ended[0]?.errorMessage, "upstream event longer than 262144 characters");
    } finally {
      await limited.close();
      upstream.closeAllConnections();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    }
  });
});

describe("an OpenAI-compatible stream without [DONE]", () => {
  // Some OpenAI-compatible servers end a chat stream after its usage chunk without "data: [DONE]".
  // The answer is whole: the SDK's iteration ends cleanly, the interception ends without an
  // error, its usage recorded. A stream cut before its usage chunk still ends with the error event.
  const chunk = (body: Record<string, unknown>) => `data: ${JSON.stringify({ id: "chatcmpl-nodone", object: "chat.completion.chunk", created: 0, model: "gpt-4o", ...body })}\n\n`;
  const CONTENT = chunk({ choices: [{ index: 0, delta: { role: "assistant", content: "hello" }, finish_reason: null }] });
  const FINISH = chunk({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] });
  const USAGE = chunk({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } });
  let upstream: ReturnType<typeof createServer>;
  let compatible: Harness;
  before(async () => {
    upstream = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.end(req.headers["x-cut"] === "before-usage" ? CONTENT + FINISH : CONTENT + FINISH + USAGE);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    compatible = await startHarness({ gateway: { openai: { baseUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`, apiKey: OPENAI_KEY } } });
  });
  after(async () => {
    await compatible?.close();
    await new Promise<void>((resolve) => upstream?.close(() => resolve()));
  });

  const streamChat = async (headers: Record<string, string> = {}) => {
    const openai = new OpenAI({ baseURL: `${compatible.gateway.url}/openai/v1`, apiKey: compatible.user.key, maxRetries: 0 });
    const stream = await openai.chat.completions.create({ model: "gpt-4o", stream: true, messages: [{ role: "user", content: "hi" }] }, { headers });
    let text = "";
    for await (const part of stream) text += part.choices[0]?.delta.content ?? "";
    return text;
  };

  it("is whole once its usage chunk came: no error for the client nor in the record", async () => {
    const ended = compatible.cp.ended.length;
    assert.equal(await streamChat(), "hello");
    await waitForEnded(compatible, ended + 1);
    const rows = compatible.cp.recordsOf(compatible.cp.interceptions.at(-1)!.id);
    assert.deepEqual([rows.ended[0]?.errorType, rows.ended[0]?.errorMessage], [undefined, undefined]);
    assert.deepEqual(rows.tokenUsages.map((t) => [t.inputTokens, t.outputTokens]), [[9n, 2n]]);
  });

  it("is cut when it ends before its usage chunk: the SDK raises, recorded upstream_disconnected", async () => {
    const before = compatible.cp.ended.length;
    await assert.rejects(streamChat({ "x-cut": "before-usage" }), /upstream stream ended before the response completed/);
    await waitForEnded(compatible, before + 1);
    const ended = compatible.cp.ended.at(-1);
    assert.deepEqual([ended?.errorType, ended?.errorMessage], ["upstream_disconnected", "upstream stream ended before the response completed"]);
  });
});

describe("a huge upstream error event", () => {
  // A 5 MiB error event made the end record larger than the control plane takes: it was
  // refused and dropped, and the interception stayed in flight for good.
  it("is relayed whole, and recorded cut to 64 KiB so the interception still ends", async () => {
    const message = "overloaded ".repeat(500_000); // 5.5 MB
    const upstream = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`event: message_start\ndata: ${JSON.stringify({ type: "message_start", message: { id: "msg_err", usage: { input_tokens: 3, output_tokens: 1 } } })}\n\n`);
      res.end(`event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "overloaded_error", message } })}\n\n`);
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const failing = await startHarness({ gateway: { anthropic: { baseUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, apiKey: ANTHROPIC_KEY } } });
    try {
      const res = await fetch(`${failing.gateway.url}/anthropic/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": failing.user.key },
        body: JSON.stringify(APIS[2]?.body),
      });
      const events = new SseParser().push(await res.text());
      assert.equal(JSON.parse(events.at(-1)?.data ?? "null").error.message, message, "the client gets the provider's event whole");
      await waitForEnded(failing, 1);
      const ended = failing.cp.ended[0]!;
      assert.equal(ended.errorType, "upstream_error");
      assert.ok(Buffer.byteLength(ended.errorMessage ?? "") <= 64 * 1024, String(ended.errorMessage?.length));
      assert.match(ended.errorMessage ?? "", / \[…truncated by Weir: \d+ bytes in all\]$/);
    } finally {
      await failing.close();
      upstream.closeAllConnections();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    }
  });
});

describe("upstream timeout", () => {
  it("bounds silences, not the stream: a stream longer than the timeout whose events keep coming completes", async () => {
    const ended = h.cp.ended.length;
    // 8 events 150 ms apart: 1.2 s in all against a 300 ms timeout.
    const res = await fetch(`${slowGateway.url}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": h.user.key, "x-emulator-event-delay-ms": "150", "x-emulator-events": "8" },
      body: JSON.stringify(APIS[2]?.body),
    });
    assert.equal(res.status, 200);
    const events = new SseParser().push(await res.text());
    assert.equal(events.at(-1)?.event, "message_stop");
    await waitForEnded(h, ended + 1);
    assert.equal(h.cp.ended.at(-1)?.errorType, undefined);
  });

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
    assert.equal(res.headers.get("x-weir-interception-id"), h.cp.ended.at(-1)?.id);
  });
});
