// Large request bodies are judged, decoded and parsed on one worker thread (parse-worker.ts),
// started on first use and shared by every request of the process: decoding a MiB of UTF-8 and
// parsing it costs the event loop about 13 ms, so a conversation of tens of MiB would freeze
// every stream the gateway relays for hundreds of milliseconds. A JobThread (job-thread.ts): the thread
// does not keep the process alive while idle; if it dies, the requests it held fail (500) and
// the next one starts a new thread.

import type { ClientSessionBody } from "./client-detection.js";
import { InvalidRequestBodyError, UnsupportedRequestError } from "./errors.js";
import { JobThread, siblingWorkerBootstrap } from "./job-thread.js";
import { CLIENT_EVENT_FILTERS } from "./providers/client-event-filters.js";
import type { ParsedRequest } from "./providers/provider-api.js";
import type { ParseJob, ParseJobResult } from "./parse-worker.js";
import type { BridgedApi } from "./routes.js";

/** What the parse thread learned of one body. */
export interface OffThreadInspection {
  readonly parsed: ParsedRequest;
  /** The body's bytes, back from the thread: the caller's Buffer may have been handed over. */
  readonly raw: Buffer;
  /** What detectClientSessionId reads of the body. */
  readonly clientSessionBody: ClientSessionBody;
}

const WORKER_BOOTSTRAP = siblingWorkerBootstrap(import.meta.url, "parse-worker");

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

type ParseThread = JobThread<ParseJobResult, OffThreadInspection>;

/** The inspection, or the error the inline path would have thrown, from the worker's result. */
function answer(result: ParseJobResult): OffThreadInspection {
  if ("error" in result) {
    if (result.error === "invalid_body") throw new InvalidRequestBodyError(result.detail);
    if (result.error === "unsupported") throw new UnsupportedRequestError(result.message, result.detail);
    // A bug in parsing (as inline, where it would have thrown out of the handler): a 500.
    throw new Error(`parsing the request body failed: ${result.message}`);
  }
  const clientEvent = result.clientEvent === undefined ? undefined : CLIENT_EVENT_FILTERS[result.clientEvent];
  const parsed: ParsedRequest = {
    model: result.model,
    stream: result.stream,
    prompt: result.prompt,
    correlatingToolCallId: result.correlatingToolCallId,
    rewrittenBody: result.rewrittenBody === undefined ? undefined : Buffer.from(result.rewrittenBody),
    clientEvent,
  };
  return { parsed, raw: Buffer.from(result.body), clientSessionBody: result.clientSessionBody };
}

let thread: ParseThread | undefined;

/**
 * Judges, decodes and parses `raw` on the parse thread as the inline path does
 * (request-inspection.ts, then `api`'s parseRequest), rejecting with the same
 * InvalidRequestBodyError or UnsupportedRequestError. `raw` may be handed to the thread and read
 * as empty afterwards: the bytes to send on are the inspection's `raw`.
 */
export function inspectRequestOffThread(raw: Buffer, api: BridgedApi): Promise<OffThreadInspection> {
  if (thread === undefined || thread.stopped) thread = new JobThread({ bootstrap: WORKER_BOOTSTRAP, what: "request parse", answer });
  const body = transferableBytes(raw);
  const job: Omit<ParseJob, "id"> = { api, body };
  return thread.run(job, [body]);
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
