// A blocking success the gateway cannot read — an HTML page from a proxy in front of the
// provider, a compressed body it cannot undo — goes to the client as it came, and is recorded as
// an upstream error rather than as a clean interception with no usage. A provider that
// compresses although it was not asked to (Accept-Encoding is not forwarded) is decoded for the
// record: its usage and tool calls are recorded as from a plain answer.
import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import { send, startHarness, waitForEnded } from "./test-harness.js";
import type { Harness } from "./test-harness.js";
import { chatCompletion } from "./testing/index.js";

const TOOL_CALL = { id: "call_gz", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } };
const COMPLETION = JSON.stringify(chatCompletion({ id: "chatcmpl-gz", toolCalls: [TOOL_CALL], promptTokens: 12, completionTokens: 7 }));
const HTML = "<html><body>502 from the corporate proxy, served as 200</body></html>";

/** What the stand-in answers, by the request's x-answer header. */
const ANSWERS: Record<string, { headers: Record<string, string>; body: Buffer }> = {
  html: { headers: { "content-type": "text/html; charset=utf-8" }, body: Buffer.from(HTML) },
  gzip: { headers: { "content-type": "application/json", "content-encoding": "gzip" }, body: gzipSync(COMPLETION) },
  "broken-gzip": { headers: { "content-type": "application/json", "content-encoding": "gzip" }, body: Buffer.from("not gzip at all") },
  "json-array": { headers: { "content-type": "application/json" }, body: Buffer.from("[1,2,3]") },
};

let upstream: Server;
let h: Harness;
/** Accept-Encoding as each request reached the stand-in. */
const acceptEncodings: (string | undefined)[] = [];

before(async () => {
  upstream = createServer((req, res) => {
    acceptEncodings.push(req.headers["accept-encoding"]);
    req.resume();
    req.on("end", () => {
      const answer = ANSWERS[String(req.headers["x-answer"])]!;
      res.writeHead(200, { ...answer.headers, "content-length": String(answer.body.length) });
      res.end(answer.body);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  h = await startHarness({ gateway: { openai: { baseUrl: `${origin}/v1`, apiKey: "sk-central-unreadable-00000001" } } });
});
after(async () => {
  await h?.close();
  await new Promise((r) => upstream?.close(r));
});

/** A blocking chat request answered as `answer`; its interception's records once ended. */
async function chat(answer: string, compressedByClient = false) {
  // Counted before sending: the end record may reach the control plane before the answer arrives.
  const ended = h.cp.ended.length;
  const res = await send(`${h.gateway.url}/openai/v1/chat/completions`, {
    headers: { authorization: `Bearer ${h.user.key}`, "x-answer": answer, ...(compressedByClient ? { "accept-encoding": "gzip" } : {}) },
    body: { model: "gpt-4o", messages: [{ role: "user", content: `answer as ${answer}` }] },
  });
  await waitForEnded(h, ended + 1);
  return { res, rows: h.cp.recordsOf(h.cp.interceptions.at(-1)!.id) };
}

describe("blocking answers the gateway cannot read", () => {
  it("relays an HTML 200 as sent and records it as an upstream error, with no usage", async () => {
    const { res, rows } = await chat("html");
    assert.deepEqual([res.status, res.text, res.headers.get("content-type")], [200, HTML, "text/html; charset=utf-8"]);
    assert.deepEqual(rows.tokenUsages, []);
    assert.deepEqual(rows.toolUsages, []);
    assert.deepEqual(
      [rows.ended[0]?.errorType, rows.ended[0]?.errorMessage],
      ["upstream_error", "the provider answered 200 with a body that is not a JSON object (text/html; charset=utf-8): no usage or tool calls recorded"],
    );
  });

  it("records JSON that is no object the same way", async () => {
    const { res, rows } = await chat("json-array");
    assert.deepEqual([res.status, res.text], [200, "[1,2,3]"]);
    assert.deepEqual(
      [rows.ended[0]?.errorType, rows.ended[0]?.errorMessage],
      ["upstream_error", "the provider answered 200 with a body that is not a JSON object (application/json): no usage or tool calls recorded"],
    );
  });

  it("decodes a gzip answer for the record, relaying it as sent", async () => {
    const { res, rows } = await chat("gzip");
    assert.equal(res.status, 200);
    // fetch undoes the gzip the gateway relayed, as a client does.
    assert.equal(res.headers.get("content-encoding"), "gzip");
    assert.equal(res.text, COMPLETION);
    assert.deepEqual(rows.tokenUsages.map((t) => [t.msgId, t.inputTokens, t.outputTokens]), [["chatcmpl-gz", 12n, 7n]]);
    assert.deepEqual(rows.toolUsages.map((t) => [t.tool, t.input, t.toolCallId]), [["get_weather", '{"location":"Paris"}', "call_gz"]]);
    assert.deepEqual([rows.ended[0]?.errorType, rows.ended[0]?.errorMessage], [undefined, undefined]);
  });

  it("records a compressed answer it cannot undo as an upstream error naming why, relaying its bytes", async () => {
    // fetch would fail on the bytes, as a client does: read them raw.
    const ended = h.cp.ended.length;
    const raw = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      const req = request(`${h.gateway.url}/openai/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${h.user.key}`, "x-answer": "broken-gzip", "content-type": "application/json" } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      });
      req.on("error", reject);
      req.end(JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "answer broken" }] }));
    });
    assert.deepEqual([raw.status, raw.body.toString()], [200, "not gzip at all"]);
    await waitForEnded(h, ended + 1);
    const rows = h.cp.recordsOf(h.cp.interceptions.at(-1)!.id);
    assert.deepEqual(rows.tokenUsages, []);
    assert.deepEqual(
      [rows.ended[0]?.errorType, rows.ended[0]?.errorMessage],
      ["upstream_error", "the provider's answer (Content-Encoding: gzip) could not be decoded to be recorded: the body is not valid gzip data"],
    );
  });

  it("never asks the provider for compression, whatever the client accepts", async () => {
    await chat("gzip", true);
    assert.ok(acceptEncodings.length >= 5);
    assert.deepEqual(new Set(acceptEncodings), new Set([undefined]));
  });
});
