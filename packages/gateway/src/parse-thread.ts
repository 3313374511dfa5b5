// Large request bodies are judged, decoded and parsed on one worker thread (parse-worker.ts),
// started on first use and shared by every request of the process: decoding a MiB of UTF-8 and
// parsing it costs the event loop about 13 ms, so a conversation of tens of MiB would freeze
// every stream the gateway relays for hundreds of milliseconds. As zstd-thread.ts: the thread
// does not keep the process alive while idle; if it dies, the requests it held fail (500) and
// the next one starts a new thread.

import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { InvalidRequestBodyError, UnsupportedRequestError } from "./errors.js";
import { CLIENT_EVENT_FILTERS } from "./providers/client-event-filters.js";
import type { ParsedRequest } from "./providers/provider-api.js";
import type { ParseJob, ParseJobResult } from "./parse-worker.js";
import type { BridgedApi } from "./routes.js";

/** What the parse thread learned of one body. */
export interface OffThreadInspection {
  readonly parsed: ParsedRequest;
  /** The body's bytes, back from the thread: the caller's Buffer may have been handed over. */
  readonly raw: Buffer;
  /** Claude Code's session id in the body's `metadata.user_id`, for detectClientSessionId. */
  readonly claudeSessionId: string | undefined;
}

interface Pending {
  readonly resolve: (inspection: OffThreadInspection) => void;
  readonly reject: (err: Error) => void;
}

// The worker is the sibling module: compiled (.js), or the source (.ts) when the tests run
// this file under tsx, whose loader a worker does not inherit: it then registers tsx first.
const EXTENSION = extname(fileURLToPath(import.meta.url));
const WORKER_URL = new URL(`./parse-worker${EXTENSION}`, import.meta.url).href;
const WORKER_BOOTSTRAP =
  EXTENSION === ".ts"
    ? `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL)}); });`
    : `import(${JSON.stringify(WORKER_URL)});`;

/**
 * The bytes to send the thread, without a copy when `raw` is the whole of its ArrayBuffer (a body
 * read in several chunks is: Buffer.concat gives it its own): that buffer is handed over, and
 * `raw` reads as empty until the thread gives it back. A view into a larger buffer is copied.
 */
function transferableBytes(raw: Buffer): ArrayBuffer {
  if (raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength && raw.buffer instanceof ArrayBuffer) return raw.buffer;
  const copy = new Uint8Array(raw.byteLength);
  copy.set(raw);
  return copy.buffer;
}

/** One worker and the jobs it holds; a stopped one fails only its own jobs. */
class ParseThread {
  private readonly worker = new Worker(WORKER_BOOTSTRAP, { eval: true });
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  stopped = false;

  get jobsHeld(): number {
    return this.pending.size;
  }

  constructor() {
    this.worker.unref();
    this.worker.on("message", (result: ParseJobResult) => this.settle(result));
    this.worker.on("error", (err) => this.stop(err));
    this.worker.on("exit", (code) => this.stop(new Error(`parse worker exited with code ${code}`)));
  }

  inspect(raw: Buffer, api: BridgedApi): Promise<OffThreadInspection> {
    const id = this.nextId++;
    const body = transferableBytes(raw);
    return new Promise<OffThreadInspection>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref(); // while it holds a job
      const job: ParseJob = { id, api, body };
      this.worker.postMessage(job, [body]);
    });
  }

  private settle(result: ParseJobResult): void {
    const p = this.pending.get(result.id);
    if (p === undefined) return;
    this.pending.delete(result.id);
    if (this.pending.size === 0) this.worker.unref();
    if (!("error" in result)) {
      const clientEvent = result.clientEvent === undefined ? undefined : CLIENT_EVENT_FILTERS[result.clientEvent];
      const parsed: ParsedRequest = {
        model: result.model,
        stream: result.stream,
        prompt: result.prompt,
        correlatingToolCallId: result.correlatingToolCallId,
        rewrittenBody: result.rewrittenBody === undefined ? undefined : Buffer.from(result.rewrittenBody),
        clientEvent,
      };
      p.resolve({ parsed, raw: Buffer.from(result.body), claudeSessionId: result.claudeSessionId });
    } else if (result.error === "invalid_body") {
      p.reject(new InvalidRequestBodyError(result.detail));
    } else if (result.error === "unsupported") {
      p.reject(new UnsupportedRequestError(result.message, result.detail));
    } else {
      // A bug in parsing (as inline, where it would have thrown out of the handler): a 500.
      p.reject(new Error(`parsing the request body failed: ${result.message}`));
    }
  }

  /** Fails the jobs it holds at once, then ends the worker. */
  async terminate(): Promise<void> {
    this.stop(new Error("parse thread terminated"));
    await this.worker.terminate();
  }

  private stop(cause: Error): void {
    if (this.stopped) return;
    this.stopped = true;
    // The gateway's fault, not the client's: a 500.
    const err = new Error("the request parse thread stopped", { cause });
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

let thread: ParseThread | undefined;

/**
 * Judges, decodes and parses `raw` on the parse thread as the inline path does
 * (request-inspection.ts, then `api`'s parseRequest), rejecting with the same
 * InvalidRequestBodyError or UnsupportedRequestError. `raw` may be handed to the thread and read
 * as empty afterwards: the bytes to send on are the inspection's `raw`.
 */
export function inspectRequestOffThread(raw: Buffer, api: BridgedApi): Promise<OffThreadInspection> {
  if (thread === undefined || thread.stopped) thread = new ParseThread();
  return thread.inspect(raw, api);
}

/**
 * Ends the parse thread, failing the bodies it holds as when it dies; the next body starts a new
 * one. The gateway never needs it (an idle thread holds nothing); tests stop it mid-body.
 */
export async function stopParseThread(): Promise<void> {
  const stopping = thread;
  thread = undefined;
  await stopping?.terminate();
}

/** Bodies the parse thread holds now: lets a test stop the thread while it holds one. */
export function parseThreadJobsHeld(): number {
  return thread === undefined || thread.stopped ? 0 : thread.jobsHeld;
}
