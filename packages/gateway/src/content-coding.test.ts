// decodeRequestBody: every supported coding round-trips (zstd from the reference zstd CLI),
// stacked codings are undone last-first, a layer that decodes past the limit is 413 (including a
// zstd "bomb" of a kilobyte that would decode to 40 MB), data that is not what the header says is
// 400, and a coding the gateway does not know is 415.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { contentCodings, decodeRequestBody } from "./content-coding.js";
import { InvalidRequestBodyError, RequestBodyTooLargeError, UnsupportedContentEncodingError } from "./errors.js";
import { ZSTD_CLI_SAMPLE, zstdRleFrame } from "./testing/zstd-samples.js";

const { text: ZSTD_TEXT, compressed: ZSTD_FIXTURE } = ZSTD_CLI_SAMPLE;
const JSON_BODY = Buffer.from(JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hello ".repeat(50) }] }));
const LIMIT = 32 * 1024 * 1024;

async function refusal(body: Buffer, header: string, limit = LIMIT): Promise<Error> {
  try {
    await decodeRequestBody(body, header, limit);
  } catch (err) {
    return err as Error;
  }
  assert.fail(`"${header}" was decoded`);
}

describe("contentCodings", () => {
  it("lists the codings in the order applied, lower case, without identity", () => {
    assert.deepEqual(contentCodings(undefined), []);
    assert.deepEqual(contentCodings(""), []);
    assert.deepEqual(contentCodings("identity"), []);
    assert.deepEqual(contentCodings(" GZIP , br"), ["gzip", "br"]);
    assert.deepEqual(contentCodings(["deflate", "zstd, identity"]), ["deflate", "zstd"]);
  });
});

describe("decodeRequestBody", () => {
  it("returns the body itself without a header or with identity", async () => {
    assert.equal(await decodeRequestBody(JSON_BODY, undefined, LIMIT), JSON_BODY);
    assert.equal(await decodeRequestBody(JSON_BODY, "identity", LIMIT), JSON_BODY);
  });

  it("undoes gzip, x-gzip, deflate (zlib and raw) and br", async () => {
    for (const [header, encoded] of [
      ["gzip", gzipSync(JSON_BODY)],
      ["x-gzip", gzipSync(JSON_BODY)],
      ["deflate", deflateSync(JSON_BODY)],
      ["deflate", deflateRawSync(JSON_BODY)],
      ["br", brotliCompressSync(JSON_BODY)],
    ] as const) {
      assert.notDeepEqual(encoded, JSON_BODY);
      assert.deepEqual(await decodeRequestBody(encoded, header, LIMIT), JSON_BODY, header);
    }
  });

  it("undoes zstd as the zstd CLI writes it", async () => {
    assert.equal((await decodeRequestBody(ZSTD_FIXTURE, "zstd", LIMIT)).toString("utf8"), ZSTD_TEXT);
  });

  it("undoes stacked codings, the last applied first", async () => {
    // "deflate, gzip": deflated, then gzipped.
    assert.deepEqual(await decodeRequestBody(gzipSync(deflateSync(JSON_BODY)), "deflate, gzip", LIMIT), JSON_BODY);
    assert.equal((await decodeRequestBody(brotliCompressSync(ZSTD_FIXTURE), "zstd, br", LIMIT)).toString("utf8"), ZSTD_TEXT);
  });

  it("refuses a layer that decodes past the limit with 413, whatever the coding", async () => {
    const limit = JSON_BODY.length - 1;
    for (const [header, encoded] of [
      ["gzip", gzipSync(JSON_BODY)],
      ["deflate", deflateSync(JSON_BODY)],
      ["deflate", deflateRawSync(JSON_BODY)],
      ["br", brotliCompressSync(JSON_BODY)],
      ["zstd", zstdRleFrame(JSON_BODY.length, { declareSize: true })],
    ] as const) {
      const err = await refusal(encoded, header, limit);
      assert.ok(err instanceof RequestBodyTooLargeError, `${header}: ${err}`);
      assert.equal(err.limitBytes, limit);
    }
    // Exactly the limit is fine.
    assert.equal((await decodeRequestBody(zstdRleFrame(limit, { declareSize: true }), "zstd", limit)).length, limit);
    assert.equal((await decodeRequestBody(gzipSync(Buffer.alloc(limit)), "gzip", limit)).length, limit);
  });

  it("stops a zstd bomb: 1 KiB that would decode to 40 MB, its size declared or not", async () => {
    for (const declareSize of [false, true]) {
      const bomb = zstdRleFrame(40_000_000, { declareSize });
      assert.ok(bomb.length < 1400, `${bomb.length} bytes`);
      const err = await refusal(bomb, "zstd");
      assert.ok(err instanceof RequestBodyTooLargeError, `declareSize ${declareSize}: ${err}`);
    }
  });

  it("refuses zstd frames whose windows need more memory than the limit, before decoding", async () => {
    // 2 TiB of window declared in a 10-byte body: never allocated.
    const huge = zstdRleFrame(1, { windowLog: 41 });
    assert.equal(huge.length, 10);
    assert.ok((await refusal(huge, "zstd")) instanceof RequestBodyTooLargeError);
    // 300 frames of one byte, each with a 128 KiB window: 37.5 MiB of windows.
    const frames = Buffer.concat(Array.from({ length: 300 }, () => zstdRleFrame(1)));
    assert.ok((await refusal(frames, "zstd")) instanceof RequestBodyTooLargeError);
    // 200 of them (25 MiB of windows) decode.
    const fewer = Buffer.concat(Array.from({ length: 200 }, () => zstdRleFrame(1)));
    assert.equal((await decodeRequestBody(fewer, "zstd", LIMIT)).toString(), " ".repeat(200));
  });

  it("refuses data that is not what the header says with 400 naming the coding", async () => {
    const truncated = ZSTD_FIXTURE.subarray(0, ZSTD_FIXTURE.length - 8);
    for (const [header, body] of [
      ["gzip", JSON_BODY],
      ["deflate", JSON_BODY],
      ["br", Buffer.from([0xff, 0xff, 0xff, 0xff])],
      ["zstd", JSON_BODY],
      ["zstd", truncated],
      ["gzip", gzipSync(JSON_BODY).subarray(0, 20)],
    ] as const) {
      const err = await refusal(body, header);
      assert.ok(err instanceof InvalidRequestBodyError, `${header}: ${err}`);
      assert.equal(err.detail, `the body is not valid ${header} data`);
    }
    // Decoded only as far as the first layer that fails: gzip is undone, then "br" is not br.
    const err = await refusal(gzipSync(JSON_BODY), "br, gzip");
    assert.ok(err instanceof InvalidRequestBodyError);
    assert.equal(err.detail, "the body is not valid br data");
  });

  it("refuses an unknown coding, or more than two, with 415 before decoding anything", async () => {
    const unknown = await refusal(gzipSync(JSON_BODY), "gzip, compress");
    assert.ok(unknown instanceof UnsupportedContentEncodingError);
    assert.equal(unknown.detail, '"compress" is not supported; use gzip, deflate, br or zstd');
    for (const name of ["constructor", "__proto__", "toString"]) {
      const inherited = await refusal(JSON_BODY, name);
      assert.ok(inherited instanceof UnsupportedContentEncodingError, `${name}: ${inherited}`);
    }
    const many = await refusal(gzipSync(gzipSync(gzipSync(JSON_BODY))), "gzip, gzip, gzip");
    assert.ok(many instanceof UnsupportedContentEncodingError);
    assert.equal(many.detail, 'at most 2 content codings are supported, got "gzip, gzip, gzip"');
  });
});
