// Request bodies sent with a Content-Encoding (RFC 9110 §8.4). Codex and other agents compress
// large Responses API bodies (whole conversations, often megabytes) with zstd or gzip. The
// gateway has to read the JSON (model, prompt, stream flag), so on bridged routes it decodes the
// body, judges and records the plain JSON, and sends that upstream without the header.
//
// Every layer is bounded by the body limit, so a small compressed body cannot expand into
// unbounded memory (a "decompression bomb" gets 413 like any other oversized body).
//
// gzip, deflate and br are Node's zlib, run on the thread pool. zstd is not in Node 20's zlib
// (22.15 added it): it is decoded in JavaScript (zstd-decoder.ts) on a worker thread of its
// own (zstd-thread.ts), so neither way holds up the event loop.

import { brotliDecompress, gunzip, inflate, inflateRaw } from "node:zlib";
import type { InputType, ZlibOptions } from "node:zlib";
import { DecodedTooLargeError, MalformedEncodingError } from "./body-coding-errors.js";
import { InvalidRequestBodyError, RequestBodyTooLargeError, UnsupportedContentEncodingError } from "./errors.js";
import { decodeZstdOffThread } from "./zstd-thread.js";

/** The codings a client may stack; more is refused rather than decoded layer after layer. */
const MAX_CODINGS = 2;

/**
 * Undoes one coding. Rejects with DecodedTooLargeError or MalformedEncodingError for what the
 * bytes are; any other rejection is the gateway's own failure.
 */
type Decoder = (body: Buffer, limitBytes: number) => Promise<Buffer>;

type ZlibDecode = (buf: InputType, options: ZlibOptions, callback: (err: Error | null, result: Buffer) => void) => void;

/** A zlib function on the thread pool, stopped at the limit; zlib fails only on the data. */
const zlibDecoder =
  (decode: ZlibDecode): Decoder =>
  (body, limitBytes) =>
    new Promise((resolve, reject) =>
      decode(body, { maxOutputLength: limitBytes }, (err, result) => {
        if (err === null) resolve(result);
        else if ((err as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") reject(new DecodedTooLargeError(err.message));
        else reject(new MalformedEncodingError(err.message));
      }),
    );

const gunzipDecoder = zlibDecoder(gunzip);
const inflateDecoder = zlibDecoder(inflate);
const inflateRawDecoder = zlibDecoder(inflateRaw);

/** "deflate" is the zlib format (RFC 1950), but some clients send a raw deflate stream. */
function hasZlibHeader(body: Buffer): boolean {
  const cmf = body[0];
  const flg = body[1];
  return cmf !== undefined && flg !== undefined && (cmf & 0x0f) === 8 && ((cmf << 8) | flg) % 31 === 0;
}

// A Map, not an object: a coding named "constructor" must not find Object's.
const DECODERS: ReadonlyMap<string, Decoder> = new Map([
  ["gzip", gunzipDecoder],
  ["x-gzip", gunzipDecoder],
  ["deflate", (body, limitBytes) => (hasZlibHeader(body) ? inflateDecoder(body, limitBytes) : inflateRawDecoder(body, limitBytes))],
  ["br", zlibDecoder(brotliDecompress)],
  ["zstd", decodeZstdOffThread],
]);

/** The supported codings, for the refusal's detail. */
const SUPPORTED = "gzip, deflate, br or zstd";

/** The codings named by a Content-Encoding header, in the order they were applied; identity dropped. */
export function contentCodings(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const codings: string[] = [];
  for (const value of Array.isArray(header) ? header : [header]) {
    for (const token of value.split(",")) {
      const coding = token.trim().toLowerCase();
      if (coding !== "" && coding !== "identity") codings.push(coding);
    }
  }
  return codings;
}

/**
 * The body with every content coding undone (the last applied first). Rejects with
 * UnsupportedContentEncodingError (415) for a coding it does not know, RequestBodyTooLargeError
 * (413) when a layer decodes to more than `limitBytes`, and InvalidRequestBodyError (400) for
 * data that is not what the header says.
 */
export async function decodeRequestBody(body: Buffer, header: string | string[] | undefined, limitBytes: number): Promise<Buffer> {
  if (header === undefined) return body;
  const codings = contentCodings(header);
  if (codings.length > MAX_CODINGS) {
    throw new UnsupportedContentEncodingError(`at most ${MAX_CODINGS} content codings are supported, got "${codings.join(", ")}"`);
  }
  const decoders = codings.map((coding) => {
    const decoder = DECODERS.get(coding);
    if (decoder === undefined) throw new UnsupportedContentEncodingError(`"${coding}" is not supported; use ${SUPPORTED}`);
    return decoder;
  });
  let decoded = body;
  for (let i = codings.length - 1; i >= 0; i--) {
    const coding = codings[i]!;
    try {
      decoded = await decoders[i]!(decoded, limitBytes);
    } catch (err) {
      if (err instanceof DecodedTooLargeError) throw new RequestBodyTooLargeError(limitBytes);
      if (err instanceof MalformedEncodingError) throw new InvalidRequestBodyError(`the body is not valid ${coding} data`);
      throw err; // the gateway's own failure (the zstd thread stopped): a 500
    }
  }
  return decoded;
}
