// zstdWindowBytes walks frames without decoding them: the reference CLI's frame, skippable
// frames, hand-built frames with and without a declared size, and broken structure.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MalformedEncodingError } from "./body-coding-errors.js";
import { ZSTD_CLI_SAMPLE, zstdRleFrame } from "./testing/zstd-samples.js";
import { decodeZstd, zstdWindowBytes } from "./zstd-decoder.js";

/** A skippable frame (RFC 8878 §3.1.2) carrying `payload`. */
function skippable(payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(0x184d2a53, 0);
  header.writeUInt32LE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe("zstdWindowBytes", () => {
  it("reads the CLI's single-segment frame: its window is its content", () => {
    assert.equal(zstdWindowBytes(ZSTD_CLI_SAMPLE.compressed), Buffer.byteLength(ZSTD_CLI_SAMPLE.text));
  });

  it("adds the windows of every frame and skips skippable frames", () => {
    const body = Buffer.concat([zstdRleFrame(10, { windowLog: 12 }), skippable(Buffer.from("metadata")), zstdRleFrame(300_000, { declareSize: true })]);
    assert.equal(zstdWindowBytes(body), 4096 + 300_000);
    assert.equal(decodeZstd(body, 1_000_000).length, 300_010);
  });

  it("refuses what is not a sequence of whole frames", () => {
    const frame = zstdRleFrame(1000);
    for (const [what, body] of [
      ["JSON", Buffer.from('{"model":"x"}')],
      ["truncated header", frame.subarray(0, 5)],
      ["truncated block", ZSTD_CLI_SAMPLE.compressed.subarray(0, 20)],
      ["trailing bytes", Buffer.concat([frame, Buffer.from([0x28, 0xb5])])],
      ["reserved block type", Buffer.concat([frame.subarray(0, 6), Buffer.from([0x07, 0x00, 0x00])])],
      ["skippable frame longer than the body", skippable(Buffer.from("abc")).subarray(0, 10)],
    ] as const) {
      assert.throws(() => zstdWindowBytes(body), MalformedEncodingError, what);
    }
  });
});

describe("decodeZstd", () => {
  it("refuses by the headers alone when the windows exceed the limit, and by the output otherwise", () => {
    assert.throws(() => decodeZstd(zstdRleFrame(2000, { declareSize: true }), 1999), { name: "DecodedTooLargeError", message: "zstd windows larger than the limit" });
    assert.throws(() => decodeZstd(zstdRleFrame(300_000, { windowLog: 17 }), 200_000), { name: "DecodedTooLargeError", message: "zstd data larger than the limit" });
    assert.equal(decodeZstd(zstdRleFrame(2000, { declareSize: true }), 2000).length, 2000);
  });
});
