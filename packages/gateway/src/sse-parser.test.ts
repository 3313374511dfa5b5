// Pins the SSE parser: events split anywhere across chunks, every line ending, comments, multi-line data.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SseParser } from "./index.js";
import type { SseEvent } from "./index.js";

function parseInChunks(text: string, chunkSize: number): { events: SseEvent[]; leftover: string } {
  const parser = new SseParser();
  const bytes = Buffer.from(text, "utf8");
  const events: SseEvent[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) events.push(...parser.push(bytes.subarray(i, i + chunkSize)));
  const end = parser.end();
  return { events: [...events, ...end.events], leftover: end.leftover };
}

describe("SseParser", () => {
  const cases = [
    {
      name: "LF events with event names",
      text: 'event: a\ndata: {"x":1}\n\nevent: b\ndata: 2\n\n',
      want: [
        { event: "a", data: '{"x":1}' },
        { event: "b", data: "2" },
      ],
      leftover: "",
    },
    {
      name: "CRLF line endings",
      text: "event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n",
      want: [
        { event: "a", data: "1" },
        { event: undefined, data: "2" },
      ],
      leftover: "",
    },
    { name: "CR line endings", text: "data: 1\r\rdata: 2\r\r", want: [{ event: undefined, data: "1" }, { event: undefined, data: "2" }], leftover: "" },
    { name: "multi-line data joins with LF", text: "data: a\ndata: b\n\n", want: [{ event: undefined, data: "a\nb" }], leftover: "" },
    { name: "comment-only block has no data", text: ": ping\n\ndata: x\n\n", want: [{ event: undefined, data: undefined }, { event: undefined, data: "x" }], leftover: "" },
    { name: "no space after colon", text: "data:[DONE]\n\n", want: [{ event: undefined, data: "[DONE]" }], leftover: "" },
    { name: "unterminated last event is leftover", text: "data: 1\n\ndata: 2\n", want: [{ event: undefined, data: "1" }], leftover: "data: 2\n" },
    { name: "multi-byte UTF-8", text: 'data: {"t":"héllo ✓ 日本"}\n\n', want: [{ event: undefined, data: '{"t":"héllo ✓ 日本"}' }], leftover: "" },
  ];
  for (const c of cases) {
    for (const size of [1, 2, 3, 7, 1024]) {
      it(`${c.name} (chunks of ${size} bytes)`, () => {
        const got = parseInChunks(c.text, size);
        assert.deepEqual(
          got.events.map((e) => ({ event: e.event, data: e.data })),
          c.want,
        );
        assert.equal(got.leftover, c.leftover);
        // Raw texts re-assemble the input exactly: forwarding them changes no byte.
        assert.equal(got.events.map((e) => e.raw).join("") + got.leftover, c.text);
      });
    }
  }

  it("emits an event as soon as its blank line arrives", () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push("data: 1\n"), []);
    assert.equal(parser.push("\n").length, 1);
    assert.equal(parser.pending, "");
  });

  it("waits for the LF after a CR at a chunk boundary", () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push("data: 1\r\n\r"), []);
    const events = parser.push("\ndata: 2\r\n\r\n");
    assert.deepEqual(
      events.map((e) => e.raw),
      ["data: 1\r\n\r\n", "data: 2\r\n\r\n"],
    );
  });

  it("keeps a line's pieces until its end arrives, then emits the whole event", () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push("data: {\"a\":\""), []);
    assert.deepEqual(parser.push("xyz"), []);
    assert.deepEqual(parser.push("\r"), []);
    assert.equal(parser.pending, 'data: {"a":"xyz\r');
    // The CR ended the line; this LF is its CRLF pair, then a blank line ends the event.
    const events = parser.push('\n\r\ndata: ');
    assert.deepEqual(events.map((e) => e.data), ['{"a":"xyz']);
    assert.equal(parser.pending, "data: ");
    assert.deepEqual(parser.end(), { events: [], leftover: "data: " });
  });

  it("reports how much of an unfinished event it holds", () => {
    const parser = new SseParser();
    parser.push("event: a\ndata: 12");
    assert.equal(parser.pendingLength, "event: a\ndata: 12".length);
    parser.push("345");
    assert.equal(parser.pendingLength, parser.pending.length);
    parser.push("\n\ndata: x");
    assert.equal(parser.pendingLength, "data: x".length);
  });

  // A server tool's result (a fetched PDF, say) arrives as one event of many megabytes. The
  // parser used to rescan everything received at every chunk: 24 MiB in 16 KiB chunks took
  // 96 s and stalled every stream of the replica meanwhile. Linear, it takes well under a
  // second. The chunks are fed across event-loop turns so that the generous timeout can end a
  // regression with a failure instead of a hang.
  it("parses a 24 MiB event arriving in 16 KiB chunks in linear time", { timeout: 30_000 }, async () => {
    const payload = "x".repeat(24 * 1024 * 1024);
    const text = `event: content_block_start\ndata: {"doc":"${payload}"}\n\n`;
    const bytes = Buffer.from(text, "utf8");
    const parser = new SseParser();
    const events: SseEvent[] = [];
    for (let i = 0; i < bytes.length; i += 16 * 1024) {
      events.push(...parser.push(bytes.subarray(i, i + 16 * 1024)));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(parser.end(), { events: [], leftover: "" });
    assert.equal(events.length, 1);
    assert.equal(events[0]?.event, "content_block_start");
    assert.equal(events[0]?.data?.length, payload.length + 10);
    assert.equal(events[0]?.raw, text);
  });
});
