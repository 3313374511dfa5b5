// The worker thread that decodes zstd request bodies (zstd-thread.ts starts it), so a body of
// megabytes, or a small one built to decode into many, never stalls the event loop that
// relays every other request's stream.

import { parentPort } from "node:worker_threads";
import { DecodedTooLargeError } from "./body-coding-errors.js";
import { decodeZstd } from "./zstd-decoder.js";

/** A body to decode, its bytes transferred. */
export interface ZstdJob {
  readonly id: number;
  readonly body: ArrayBuffer;
  readonly limitBytes: number;
}

/** The decoded bytes (transferred), or why not. */
export type ZstdJobResult =
  | { readonly id: number; readonly decoded: ArrayBuffer }
  | { readonly id: number; readonly error: "too_large" | "invalid"; readonly message: string };

parentPort?.on("message", ({ id, body, limitBytes }: ZstdJob) => {
  let result: ZstdJobResult;
  try {
    // decodeZstd's result owns its whole ArrayBuffer: transferred, not copied.
    const decoded = decodeZstd(Buffer.from(body), limitBytes);
    result = { id, decoded: decoded.buffer };
    parentPort!.postMessage(result, [decoded.buffer]);
    return;
  } catch (err) {
    result = { id, error: err instanceof DecodedTooLargeError ? "too_large" : "invalid", message: err instanceof Error ? err.message : String(err) };
  }
  parentPort!.postMessage(result);
});
