// One worker thread that runs jobs off the event loop and answers each by its id: the zstd
// decoder (zstd-thread.ts) and the large-body parser (parse-thread.ts) each keep one, started on
// first use and shared by every request of the process. The thread does not keep the process
// alive while idle; if it dies, the jobs it held fail and its owner starts a new one.

import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Transferable } from "node:worker_threads";

/**
 * The code that starts the worker module `name` next to `callerUrl` (the caller's
 * import.meta.url): the compiled sibling (.js), or the source (.ts) when the tests run under tsx,
 * whose loader a worker does not inherit: it then registers tsx first.
 */
export function siblingWorkerBootstrap(callerUrl: string, name: string): string {
  const extension = extname(fileURLToPath(callerUrl));
  const workerUrl = JSON.stringify(new URL(`./${name}${extension}`, callerUrl).href);
  return extension === ".ts"
    ? `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => { tsx.register(); return import(${workerUrl}); });`
    : `import(${workerUrl});`;
}

interface Pending<V> {
  readonly resolve: (value: V) => void;
  readonly reject: (err: Error) => void;
}

export interface JobThreadOptions<R, V> {
  /** The worker's code (siblingWorkerBootstrap). */
  readonly bootstrap: string;
  /** Names the thread in its errors: "the <what> thread stopped", "<what> worker exited …". */
  readonly what: string;
  /** A job's answer from the worker's result; what it throws fails the job. */
  readonly answer: (result: R) => V;
}

/** A worker and the jobs it holds; a stopped one fails only its own jobs. */
export class JobThread<R extends { readonly id: number }, V> {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending<V>>();
  private nextId = 1;
  stopped = false;

  constructor(private readonly options: JobThreadOptions<R, V>) {
    this.worker = new Worker(options.bootstrap, { eval: true });
    this.worker.unref();
    this.worker.on("message", (result: R) => this.settle(result));
    this.worker.on("error", (err) => this.stop(err));
    this.worker.on("exit", (code) => this.stop(new Error(`${options.what} worker exited with code ${code}`)));
  }

  get jobsHeld(): number {
    return this.pending.size;
  }

  /** Posts `job` with a fresh id, handing over `transfer`; resolves with the answer to its result. */
  run(job: object, transfer: readonly Transferable[]): Promise<V> {
    const id = this.nextId++;
    return new Promise<V>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref(); // while it holds a job
      this.worker.postMessage({ ...job, id }, transfer);
    });
  }

  private settle(result: R): void {
    const p = this.pending.get(result.id);
    if (p === undefined) return;
    this.pending.delete(result.id);
    if (this.pending.size === 0) this.worker.unref();
    let value: V;
    try {
      value = this.options.answer(result);
    } catch (err) {
      p.reject(err as Error);
      return;
    }
    p.resolve(value);
  }

  /** Fails the jobs it holds at once, then ends the worker. */
  async terminate(): Promise<void> {
    this.stop(new Error(`${this.options.what} thread terminated`));
    await this.worker.terminate();
  }

  private stop(cause: Error): void {
    if (this.stopped) return;
    this.stopped = true;
    // The gateway's fault, not the client's: a 500.
    const err = new Error(`the ${this.options.what} thread stopped`, { cause });
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
