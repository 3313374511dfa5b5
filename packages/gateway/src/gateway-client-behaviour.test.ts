// How the gateway treats clients that do not behave like SDKs, over raw sockets: a client that
// stops reading a stream for longer than the upstream timeout still gets all of it (the wait is
// its own, not a silence of the provider's); a refused request whose client keeps sending a huge
// body is cut off after the body limit more instead of read whole; an absolute-form request
// target (RFC 9112 §3.2.2) is routed by its path; bytes that are no request after a valid one
// on the same connection do not cost the valid one its answer; a client that asks before sending
// its body (Expect: 100-continue) is told to go on only once its request is authorized.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, request, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { SseParser } from "./index.js";
import { startHarness, waitForEnded } from "./test-harness.js";
import type { Harness } from "./test-harness.js";

let h: Harness;
before(async () => {
  h = await startHarness({ gateway: { maxRequestBodyBytes: 1024 * 1024 } });
});
after(() => h.close());

const CHAT = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] };

describe("a client that reads slowly", () => {
  // A provider stand-in streaming 40 MB of chat chunks as fast as it may: more than the sockets
  // between it, the gateway and the client hold, so the gateway must wait for this client.
  const CHUNKS = 640;
  const chunk = (body: Record<string, unknown>) => `data: ${JSON.stringify({ id: "chatcmpl-slow", object: "chat.completion.chunk", created: 0, model: "gpt-4o", ...body })}\n\n`;
  const CONTENT = chunk({ choices: [{ index: 0, delta: { content: "x".repeat(64 * 1024) }, finish_reason: null }] });
  let upstream: Server;
  let slow: Harness;
  before(async () => {
    upstream = createServer((req, res) => {
      req.resume();
      req.on("end", async () => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        for (let i = 0; i < CHUNKS && !res.destroyed; i++) if (!res.write(CONTENT)) await once(res, "drain");
        res.write(chunk({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }));
        res.write(chunk({ choices: [], usage: { prompt_tokens: 3, completion_tokens: CHUNKS, total_tokens: CHUNKS + 3 } }));
        res.end("data: [DONE]\n\n");
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    // A second of upstream timeout: the pauses below are well inside it, or well beyond it, on a
    // busy machine too.
    slow = await startHarness({ gateway: { upstreamTimeoutMs: 1_000, openai: { baseUrl: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`, apiKey: "sk-slow-reader-0000000000000001" } } });
  });
  after(async () => {
    await slow?.close();
    await new Promise<void>((resolve) => upstream?.close(() => resolve()));
  });

  const slowRead = (pauseMs: number) => {
    const { port } = new URL(slow.gateway.url);
    return new Promise<{ text: string; cut: boolean }>((resolve) => {
      const chunks: Buffer[] = [];
      const req = request(
        { host: "127.0.0.1", port: Number(port), method: "POST", path: "/openai/v1/chat/completions", headers: { authorization: `Bearer ${slow.user.key}`, "content-type": "application/json" } },
        (res) => {
          res.pause();
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ text: Buffer.concat(chunks).toString(), cut: false }));
          res.on("error", () => resolve({ text: Buffer.concat(chunks).toString(), cut: true }));
          setTimeout(() => res.resume(), pauseMs);
        },
      );
      req.on("error", () => resolve({ text: Buffer.concat(chunks).toString(), cut: true }));
      req.end(JSON.stringify({ ...CHAT, stream: true }));
    });
  };

  // The gateway stops reading the provider while the client does not read: that wait is the
  // client's, and does not count as a silence of the provider's.
  it("gets the whole stream when it pauses for most of the upstream timeout", { timeout: 60_000 }, async () => {
    const ended = slow.cp.ended.length;
    const { text, cut } = await slowRead(400);
    assert.equal(cut, false);
    const events = new SseParser().push(text);
    // Every chunk, the finish and [DONE]; the usage chunk it did not ask for is not passed on.
    assert.equal(events.length, CHUNKS + 2);
    assert.equal(events.at(-1)?.data, "[DONE]");
    await waitForEnded(slow, ended + 1);
    assert.deepEqual([slow.cp.ended.at(-1)?.errorType, slow.cp.ended.at(-1)?.errorMessage], [undefined, undefined]);
  });

  it("is let go after reading nothing for a whole upstream timeout, recorded as the client's doing, not a provider timeout", { timeout: 60_000 }, async () => {
    const ended = slow.cp.ended.length;
    const { cut } = await slowRead(3_000);
    assert.equal(cut, true);
    await waitForEnded(slow, ended + 1);
    assert.deepEqual([slow.cp.ended.at(-1)?.errorType, slow.cp.ended.at(-1)?.errorMessage], ["client_disconnected", "client stopped reading"]);
  });
});

describe("a refused request whose client keeps sending", () => {
  it("is answered, then cut off after the body limit more rather than read whole", { timeout: 30_000 }, async () => {
    const { port } = new URL(h.gateway.url);
    const socket = connect(Number(port), "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    let answer = "";
    socket.on("data", (d: Buffer) => (answer += d.toString()));
    socket.on("error", () => undefined);
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write(`POST /openai/v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer not-a-weir-key\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n`);
    // Up to 64 MiB, far more than the 1 MiB the gateway takes after refusing (and the socket
    // buffers between): the gateway must close first.
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    let open = true;
    void closed.then(() => (open = false));
    while (open && sent < 64 * 1024 * 1024) {
      if (!socket.write(chunk)) await new Promise((r) => setTimeout(r, 1));
      sent += chunk.length;
    }
    await closed;
    assert.match(answer, /^HTTP\/1\.1 403 /);
    assert.ok(sent < 64 * 1024 * 1024, `the gateway read all ${sent} bytes`);
  });
});

describe("a client that sends Expect: 100-continue", () => {
  const body = JSON.stringify(CHAT);
  /** Sends the head; resolves with what came back before the body was sent (if ever), then all of it. */
  const ask = async (key: string, declared: number) => {
    const { port } = new URL(h.gateway.url);
    const socket = connect(Number(port), "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    let answer = "";
    const arrived = new Promise<void>((resolve) => socket.on("data", (d: Buffer) => ((answer += d.toString()), resolve())));
    socket.on("error", () => undefined);
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write(`POST /openai/v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\nExpect: 100-continue\r\n\r\n`);
    await arrived;
    return { first: answer, socket, closed, all: () => answer };
  };

  it("is told to go on only once authorized, and then served", async () => {
    const { first, socket, closed, all } = await ask(h.user.key, Buffer.byteLength(body));
    assert.equal(first, "HTTP/1.1 100 Continue\r\n\r\n");
    socket.write(body);
    await new Promise<void>((resolve) => socket.on("data", () => all().includes('"object":"chat.completion"') && resolve()));
    socket.destroy();
    await closed;
    assert.match(all(), /\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    assert.ok(all().includes('"object":"chat.completion"'), all().slice(0, 300));
  });

  it("with a bad key is refused without being told to send its body, and the connection closes", async () => {
    const { first, closed, all } = await ask("not-a-weir-key", 100_000);
    await closed;
    assert.match(first, /^HTTP\/1\.1 403 /);
    assert.ok(!all().includes("100 Continue"), all());
    assert.match(all(), /\r\nConnection: close\r\n/i);
  });

  it("declaring a body over the limit is refused with 413 without being told to send it", async () => {
    const { first, closed, all } = await ask(h.user.key, 2 * 1024 * 1024);
    await closed;
    assert.match(first, /^HTTP\/1\.1 413 /);
    assert.ok(!all().includes("100 Continue"), all());
  });
});

describe("an absolute-form request target", () => {
  it("is routed by its path", async () => {
    const { port } = new URL(h.gateway.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port: Number(port), method: "POST", path: `http://127.0.0.1:${port}/openai/v1/chat/completions`, headers: { authorization: `Bearer ${h.user.key}`, "content-type": "application/json" } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify(CHAT));
    });
    assert.equal(status, 200);
  });
});

describe("bytes that are no request after a valid one on the same connection", () => {
  /** Sends `bytes` on a fresh connection; resolves with all the gateway wrote before closing it. */
  const exchange = async (bytes: string): Promise<string> => {
    const { port } = new URL(h.gateway.url);
    const socket = connect(Number(port), "127.0.0.1");
    let answer = "";
    socket.on("data", (d: Buffer) => (answer += d.toString()));
    socket.on("error", () => undefined);
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(bytes);
    await new Promise<void>((resolve) => socket.once("close", () => resolve()));
    return answer;
  };
  const body = JSON.stringify(CHAT);
  const valid = (extra = "") =>
    `POST /openai/v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${h.user.key}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

  it("let the valid one be answered, then close the connection", async () => {
    for (const [name, bytes] of [
      ["garbage pipelined after it", `${valid()}GARBAGE\r\n\r\n`],
      ["a byte after Connection: close", `${valid("Connection: close\r\n")}X`],
    ] as const) {
      const ended = h.cp.ended.length;
      const answer = await exchange(bytes);
      assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/, name);
      assert.ok(answer.includes('"object":"chat.completion"'), `${name}: ${answer.slice(0, 200)}`);
      await waitForEnded(h, ended + 1);
      assert.deepEqual([h.cp.ended.at(-1)?.errorType, h.cp.ended.at(-1)?.errorMessage], [undefined, undefined], name);
    }
  });

  it("are refused as Node refuses them when nothing is being answered", async () => {
    assert.match(await exchange("GARBAGE\r\n\r\n"), /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(await exchange(`GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Big: ${"x".repeat(20_000)}\r\n\r\n`), /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  });
});
