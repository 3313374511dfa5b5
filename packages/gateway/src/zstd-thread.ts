// zstd bodies are decoded on one worker thread (zstd-worker.ts), started on first use and
// shared by every request of the process: fzstd is JavaScript (about 8–10 ms per decoded MiB
// here), and on the event loop it would hold up every stream the gateway relays meanwhile.
// The thread does not keep the process alive while idle; if it dies, the requests it held
// fail (500) and the next one starts a new thread.

import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { DecodedTooLargeError, MalformedEncodingError } from "./body-coding-errors.js";
import type { ZstdJob, ZstdJobResult } from "./zstd-worker.js";

interface Pending {
  readonly resolve: (decoded: Buffer) => void;
  readonly reject: (err: Error) => void;
}

// The worker is the sibling module: compiled (.js), or the source (.ts) when the tests run
// this file under tsx, whose loader a worker does not inherit: it then registers tsx first.
const EXTENSION = extname(fileURLToPath(import.meta.url));
const WORKER_URL = new URL(`./zstd-worker${EXTENSION}`, import.meta.url).href;
const WORKER_BOOTSTRAP =
  EXTENSION === ".ts"
    ? `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL)}); });`
    : `import(${JSON.stringify(WORKER_URL)});`;

/** One worker and the jobs it holds; a stopped one fails only its own jobs. */
class ZstdThread {
  private readonly worker = new Worker(WORKER_BOOTSTRAP, { eval: true });
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  stopped = false;

  constructor() {
    this.worker.unref();
    this.worker.on("message", (result: ZstdJobResult) => this.settle(result));
    this.worker.on("error", (err) => this.stop(err));
    this.worker.on("exit", (code) => this.stop(new Error(`zstd worker exited with code ${code}`)));
  }

  decode(body: Buffer, limitBytes: number): Promise<Buffer> {
    const id = this.nextId++;
    // A copy of just these bytes: `body` may be a view into a larger buffer.
    const copy = new Uint8Array(body.length);
    copy.set(body);
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref(); // while it holds a job
      const job: ZstdJob = { id, body: copy.buffer, limitBytes };
      this.worker.postMessage(job, [copy.buffer]);
    });
  }

  private settle(result: ZstdJobResult): void {
    const p = this.pending.get(result.id);
    if (p === undefined) return;
    this.pending.delete(result.id);
    if (this.pending.size === 0) this.worker.unref();
    if ("decoded" in result) p.resolve(Buffer.from(result.decoded));
    else p.reject(result.error === "too_large" ? new DecodedTooLargeError(result.message) : new MalformedEncodingError(result.message));
  }

  /** Fails the jobs it holds at once, then ends the worker. */
  async terminate(): Promise<void> {
    this.stop(new Error("zstd thread terminated"));
    await this.worker.terminate();
  }

  private stop(cause: Error): void {
    if (this.stopped) return;
    this.stopped = true;
    // The gateway's fault, not the client's: neither of the decoding errors.
    const err = new Error("the zstd decoder thread stopped", { cause });
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

let thread: ZstdThread | undefined;

/** Decodes `body` on the zstd thread; rejects with DecodedTooLargeError or MalformedEncodingError. */
export function decodeZstdOffThread(body: Buffer, limitBytes: number): Promise<Buffer> {
  if (thread === undefined || thread.stopped) thread = new ZstdThread();
  return thread.decode(body, limitBytes);
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
