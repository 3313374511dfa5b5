// Zstandard bodies for tests: one made by the reference zstd CLI, and frames built by hand
// (no zstd compressor is installed with the project).

/** A Responses API body, and the same body as `zstd -3` (Zstandard CLI v1.5.4) compressed it. */
export const ZSTD_CLI_SAMPLE = {
  text: '{"model":"gpt-4o-mini","input":"What is in this compressed body? It travels as zstd, the way Codex sends large requests."}',
  compressed: Buffer.from(
    "KLUv/SR6PQMAoscYG3BrcwAS1VayYbsrFUsldRbPn30+QvOVVf/vBY8DfJ8NIptzaSf5uPJeJLKBGUfhRGsE9w3/+CkTp62XYAEDmcGYfzZGsYOvaL3UV+9BhVNuG2bpIadLVcICyTLLKZcSmTpHAMJp7ak=",
    "base64",
  ),
} as const;

/** How zstdRleFrame writes its frame header. */
export interface ZstdRleFrameOptions {
  /** The repeated byte (default a space). */
  readonly byte?: number;
  /**
   * Declare the content size in a single-segment header (window = content), as an encoder that
   * knows the size does; otherwise no size and a window of 2^windowLog bytes, as a streaming one.
   */
  readonly declareSize?: boolean;
  /** log2 of the window when the size is not declared (default 17: 128 KiB; at most 41). */
  readonly windowLog?: number;
}

/**
 * A Zstandard frame (RFC 8878 §3.1.1) of RLE blocks: `size` copies of one byte, in 4 bytes per
 * 128 KiB, so a kilobyte decodes to tens of megabytes (a "decompression bomb").
 */
export function zstdRleFrame(size: number, options: ZstdRleFrameOptions = {}): Buffer {
  const { byte = 0x20, declareSize = false, windowLog = 17 } = options;
  const maxBlock = declareSize ? 128 * 1024 : Math.min(128 * 1024, 2 ** windowLog);
  const header = Buffer.alloc(10);
  header.writeUInt32LE(0xfd2fb528, 0);
  let headerBytes: number;
  if (declareSize) {
    // Frame header descriptor: 4-byte content size, single segment; then the size.
    header[4] = (2 << 6) | (1 << 5);
    header.writeUInt32LE(size, 5);
    headerBytes = 9;
  } else {
    // Frame header descriptor 0 (no size, no checksum); window descriptor 2^windowLog.
    header[4] = 0;
    header[5] = (windowLog - 10) << 3;
    headerBytes = 6;
  }
  const parts = [header.subarray(0, headerBytes)];
  for (let left = size; left > 0; left -= maxBlock) {
    const n = Math.min(left, maxBlock);
    const last = left <= maxBlock ? 1 : 0;
    // Block header (little-endian 24 bits): last flag, type 1 (RLE), size; then the byte.
    const block = last | (1 << 1) | (n << 3);
    parts.push(Buffer.from([block & 0xff, (block >> 8) & 0xff, (block >> 16) & 0xff, byte]));
  }
  return Buffer.concat(parts);
}
