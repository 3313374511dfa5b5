// decodeZstdOffThread: the decoding happens while the event loop keeps turning (on the zstd
// thread, not inline), concurrent bodies each get their own bytes back, and refusals come back
// as the decoder's error types; a stopped thread fails what it held as the gateway's fault.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DecodedTooLargeError, MalformedEncodingError } from "./body-coding-errors.js";
import { turnsDuring } from "./testing/event-loop-turns.js";
import { ZSTD_CLI_SAMPLE, zstdRleFrame } from "./testing/zstd-samples.js";
import { decodeZstdOffThread, stopZstdThread } from "./zstd-thread.js";

describe("decodeZstdOffThread", () => {
  it("decodes while the event loop keeps turning", async () => {
    await decodeZstdOffThread(ZSTD_CLI_SAMPLE.compressed, 1_000_000); // the thread is started
    const size = 24 * 1024 * 1024;
    const { result, turns } = await turnsDuring(decodeZstdOffThread(zstdRleFrame(size, { byte: 0x61 }), 32 * 1024 * 1024));
    assert.equal(result.length, size);
    assert.equal(result[0], 0x61);
    assert.equal(result[size - 1], 0x61);
    assert.ok(turns > 0, "the event loop did not turn while decoding");
  });

  it("gives each of several concurrent bodies its own bytes", async () => {
    const sizes = [1000, 200_000, 3, 50_000];
    const decoded = await Promise.all(sizes.map((n, i) => decodeZstdOffThread(zstdRleFrame(n, { byte: 0x41 + i }), 1_000_000)));
    assert.deepEqual(
      decoded.map((d) => [d.length, d[0]]),
      sizes.map((n, i) => [n, 0x41 + i]),
    );
    assert.equal((await decodeZstdOffThread(ZSTD_CLI_SAMPLE.compressed, 1_000_000)).toString("utf8"), ZSTD_CLI_SAMPLE.text);
  });

  it("refuses with the decoder's errors, and keeps working after them", async () => {
    await assert.rejects(decodeZstdOffThread(zstdRleFrame(5000), 4000), DecodedTooLargeError);
    await assert.rejects(decodeZstdOffThread(Buffer.from("not zstd"), 4000), MalformedEncodingError);
    // A view into a larger buffer: only its own bytes are sent.
    const framed = Buffer.concat([Buffer.from("junk"), ZSTD_CLI_SAMPLE.compressed, Buffer.from("junk")]);
    const view = framed.subarray(4, 4 + ZSTD_CLI_SAMPLE.compressed.length);
    assert.equal((await decodeZstdOffThread(view, 1_000_000)).toString("utf8"), ZSTD_CLI_SAMPLE.text);
  });

  it("fails the bodies a stopped thread held with a plain Error (the gateway's fault), then starts a new thread", async () => {
    const held = decodeZstdOffThread(zstdRleFrame(24 * 1024 * 1024), 32 * 1024 * 1024).then(
      () => assert.fail("decoded after the thread stopped"),
      (e: unknown) => e as Error,
    );
    await stopZstdThread();
    const err = await held;
    assert.equal(err.message, "the zstd decoder thread stopped");
    assert.ok(!(err instanceof MalformedEncodingError) && !(err instanceof DecodedTooLargeError));
    assert.equal((await decodeZstdOffThread(ZSTD_CLI_SAMPLE.compressed, 1_000_000)).toString("utf8"), ZSTD_CLI_SAMPLE.text);
    await stopZstdThread();
  });
});
