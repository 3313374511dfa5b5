// zstd request bodies, bounded. fzstd (pure JavaScript; Node 20's zlib has no zstd) allocates
// each frame's whole window up front, as the frame header declares it: a ten-byte body could
// make it reserve 2 GB, and many small frames many times the body limit. So the frames are
// walked first, without decoding (RFC 8878 §3.1: frame headers, then block headers that give
// each block's size), and a body whose windows add up to more than the limit is refused before
// anything is allocated. Decoding then stops at the first block past the limit.

import { Decompress } from "fzstd";
import { DecodedTooLargeError, MalformedEncodingError } from "./body-coding-errors.js";

const ZSTD_MAGIC = 0xfd2fb528;
/** Skippable frames have magic numbers 0x184D2A50 to 0x184D2A5F. */
const SKIPPABLE_MAGIC_HIGH = 0x184d2a5;
const DICT_ID_BYTES = [0, 1, 2, 4] as const;
const CONTENT_SIZE_BYTES = [0, 2, 4, 8] as const;

function need(body: Buffer, end: number): void {
  if (end > body.length) throw new MalformedEncodingError("truncated zstd frame");
}

/** Little-endian unsigned integer of 1, 2, 4 or 8 bytes (8-byte sizes beyond 2^53 lose precision, which only matters above any limit). */
function readSize(body: Buffer, at: number, bytes: number): number {
  switch (bytes) {
    case 1:
      return body[at]!;
    case 2:
      return body.readUInt16LE(at) + 256; // RFC 8878: the 2-byte field is offset by 256
    case 4:
      return body.readUInt32LE(at);
    default:
      return body.readUInt32LE(at + 4) * 2 ** 32 + body.readUInt32LE(at);
  }
}

/** Walks one Zstandard frame from its header to its last block; returns its window size and end. */
function walkFrame(body: Buffer, start: number): { window: number; end: number } {
  need(body, start + 5);
  const descriptor = body[start + 4]!;
  if ((descriptor & 0x08) !== 0) throw new MalformedEncodingError("reserved bit set in a zstd frame header");
  const singleSegment = (descriptor >> 5) & 1;
  const checksum = (descriptor >> 2) & 1;
  let at = start + 5;
  let window = 0;
  if (!singleSegment) {
    need(body, at + 1);
    const exponent = body[at]! >> 3;
    const base = 2 ** (10 + exponent);
    window = base + (base / 8) * (body[at]! & 7);
    at += 1;
  }
  at += DICT_ID_BYTES[descriptor & 3]!;
  const sizeFlag = descriptor >> 6;
  const sizeBytes = sizeFlag === 0 ? singleSegment : CONTENT_SIZE_BYTES[sizeFlag]!;
  need(body, at + sizeBytes);
  // A single-segment frame's window is its whole content.
  if (singleSegment) window = readSize(body, at, sizeBytes);
  at += sizeBytes;
  for (let last = 0; !last; ) {
    need(body, at + 3);
    const header = body[at]! | (body[at + 1]! << 8) | (body[at + 2]! << 16);
    last = header & 1;
    const type = (header >> 1) & 3;
    const size = header >>> 3;
    if (type === 3) throw new MalformedEncodingError("reserved zstd block type");
    // Raw and compressed blocks carry `size` bytes; an RLE block carries the one byte it repeats.
    at += 3 + (type === 1 ? 1 : size);
  }
  at += checksum * 4;
  need(body, at);
  return { window, end: at };
}

/** The sum of the windows of the frames in `body` (skippable frames have none). */
export function zstdWindowBytes(body: Buffer): number {
  let total = 0;
  for (let at = 0; at < body.length; ) {
    need(body, at + 4);
    const magic = body.readUInt32LE(at);
    if (magic === ZSTD_MAGIC) {
      const frame = walkFrame(body, at);
      total += frame.window;
      at = frame.end;
    } else if (magic >>> 4 === SKIPPABLE_MAGIC_HIGH) {
      need(body, at + 8);
      at += 8 + body.readUInt32LE(at + 4);
      need(body, at);
    } else {
      throw new MalformedEncodingError("not a zstd frame");
    }
  }
  return total;
}

/** Decodes `body`; DecodedTooLargeError past `limitBytes`, MalformedEncodingError (or fzstd's own error) for bad data. */
export function decodeZstd(body: Buffer, limitBytes: number): Buffer<ArrayBuffer> {
  if (zstdWindowBytes(body) > limitBytes) throw new DecodedTooLargeError("zstd windows larger than the limit");
  const chunks: Uint8Array[] = [];
  let size = 0;
  const decoder = new Decompress((chunk) => {
    size += chunk.length;
    // Thrown out of push(): stops decoding at the first block past the limit.
    if (size > limitBytes) throw new DecodedTooLargeError("zstd data larger than the limit");
    chunks.push(chunk);
  });
  decoder.push(body, true);
  // Its own ArrayBuffer, exactly as long (never Node's shared pool), so the zstd thread can
  // hand it over without a copy.
  const out = Buffer.from(new ArrayBuffer(size));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
