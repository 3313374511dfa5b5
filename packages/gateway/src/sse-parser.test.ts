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
});
