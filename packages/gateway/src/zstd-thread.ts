// zstd bodies are decoded on one worker thread (zstd-worker.ts), started on first use and
// shared by every request of the process: fzstd is JavaScript (about 8–10 ms per decoded MiB
// here), and on the event loop it would hold up every stream the gateway relays meanwhile.
// The thread does not keep the process alive while idle; if it dies, the requests it held
// fail (500) and the next one starts a new thread.

import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { ZstdInvalidError, ZstdTooLargeError } from "./zstd-decoder.js";
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

let worker: Worker | undefined;
let nextId = 1;
const pending = new Map<number, Pending>();

function failAll(err: Error): void {
  for (const p of pending.values()) p.reject(err);
  pending.clear();
}

function started(): Worker {
  if (worker !== undefined) return worker;
  const w = new Worker(WORKER_BOOTSTRAP, { eval: true });
  w.unref();
  w.on("message", (result: ZstdJobResult) => {
    const p = pending.get(result.id);
    if (p === undefined) return;
    pending.delete(result.id);
    if (pending.size === 0) w.unref();
    if ("decoded" in result) p.resolve(Buffer.from(result.decoded, 0, result.length));
    else p.reject(result.error === "too_large" ? new ZstdTooLargeError(result.message) : new ZstdInvalidError(result.message));
  });
  const gone = (err: Error): void => {
    if (worker === w) worker = undefined;
    // The gateway's fault, not the client's: not a ZstdInvalidError.
    failAll(new Error("the zstd decoder thread stopped", { cause: err }));
  };
  w.on("error", gone);
  w.on("exit", (code) => gone(new Error(`zstd worker exited with code ${code}`)));
  worker = w;
  return w;
}

/** Decodes `body` on the zstd thread; rejects with ZstdTooLargeError or ZstdInvalidError. */
export function decodeZstdOffThread(body: Buffer, limitBytes: number): Promise<Buffer> {
  const w = started();
  const id = nextId++;
  // A copy of just these bytes: `body` may be a view into a larger buffer.
  const copy = new Uint8Array(body.length);
  copy.set(body);
  return new Promise<Buffer>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    w.ref();
    const job: ZstdJob = { id, body: copy.buffer, limitBytes };
    w.postMessage(job, [copy.buffer]);
  });
}
