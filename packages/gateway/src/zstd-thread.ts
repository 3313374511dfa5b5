// zstd bodies are decoded on one worker thread (zstd-worker.ts), started on first use and
// shared by every request of the process: fzstd is JavaScript (about 8–10 ms per decoded MiB
// here), and on the event loop it would hold up every stream the gateway relays meanwhile.
// The thread does not keep the process alive while idle; if it dies, the requests it held
// fail (500) and the next one starts a new thread.

import { DecodedTooLargeError, MalformedEncodingError } from "./body-coding-errors.js";
import { JobThread, siblingWorkerBootstrap } from "./job-thread.js";
import type { ZstdJob, ZstdJobResult } from "./zstd-worker.js";

const WORKER_BOOTSTRAP = siblingWorkerBootstrap(import.meta.url, "zstd-worker");

type ZstdThread = JobThread<ZstdJobResult, Buffer>;

function startThread(): ZstdThread {
  return new JobThread<ZstdJobResult, Buffer>({
    bootstrap: WORKER_BOOTSTRAP,
    what: "zstd decoder",
    answer: (result) => {
      if ("decoded" in result) return Buffer.from(result.decoded);
      throw result.error === "too_large" ? new DecodedTooLargeError(result.message) : new MalformedEncodingError(result.message);
    },
  });
}

let thread: ZstdThread | undefined;

/** Decodes `body` on the zstd thread; rejects with DecodedTooLargeError or MalformedEncodingError. */
export function decodeZstdOffThread(body: Buffer, limitBytes: number): Promise<Buffer> {
  if (thread === undefined || thread.stopped) thread = startThread();
  // A copy of just these bytes: `body` may be a view into a larger buffer.
  const copy = new Uint8Array(body.length);
  copy.set(body);
  const job: Omit<ZstdJob, "id"> = { body: copy.buffer, limitBytes };
  return thread.run(job, [copy.buffer]);
}

/**
 * Ends the zstd thread, failing the bodies it holds as when it dies; the next body starts a new
 * one. The gateway never needs it (an idle thread holds nothing); tests stop it mid-body.
 */
export async function stopZstdThread(): Promise<void> {
  const stopping = thread;
  thread = undefined;
  await stopping?.terminate();
}
