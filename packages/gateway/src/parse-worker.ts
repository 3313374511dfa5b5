// The worker thread that judges, decodes and parses large request bodies (parse-thread.ts starts
// it), so a conversation of megabytes never holds up the event loop that relays every other
// request's stream. It posts back only what the gateway keeps of the body: a few strings, and
// the bytes to send upstream.

import { parentPort } from "node:worker_threads";
import { clientSessionBody } from "./client-detection.js";
import type { ClientSessionBody } from "./client-detection.js";
import { isInvalidRequestBodyError, isUnsupportedRequestError } from "./errors.js";
import { clientEventFilterName } from "./providers/client-event-filters.js";
import type { ClientEventFilterName } from "./providers/client-event-filters.js";
import { PROVIDER_APIS } from "./providers/index.js";
import { requestBodyObject, requestBodyText } from "./request-inspection.js";
import type { BridgedApi } from "./routes.js";

/** A body to inspect, its bytes transferred (and transferred back in the answer). */
export interface ParseJob {
  readonly id: number;
  readonly api: BridgedApi;
  readonly body: ArrayBuffer;
}

/** What parseRequest and the body's session id came to; `body` is the job's bytes, given back. */
export interface ParseJobInspection {
  readonly id: number;
  readonly body: ArrayBuffer;
  readonly model: string;
  readonly stream: boolean;
  readonly prompt: string | undefined;
  readonly correlatingToolCallId: string | undefined;
  /** parseRequest's rewritten body as UTF-8 bytes (transferred). */
  readonly rewrittenBody: ArrayBuffer | undefined;
  readonly clientEvent: ClientEventFilterName | undefined;
  /** What detectClientSessionId reads of the body. */
  readonly clientSessionBody: ClientSessionBody;
}

/** Why the body was refused, as the inline path would have thrown it. */
export type ParseJobRefusal =
  | { readonly id: number; readonly error: "invalid_body"; readonly detail: string }
  | { readonly id: number; readonly error: "unsupported"; readonly message: string; readonly detail: string }
  | { readonly id: number; readonly error: "internal"; readonly message: string };

export type ParseJobResult = ParseJobInspection | ParseJobRefusal;

/** The body's bytes (a text's as UTF-8) in an ArrayBuffer of their own, to transfer. */
function ownBytes(body: string | Buffer): ArrayBuffer {
  const bytes = new ArrayBuffer(Buffer.byteLength(body, "utf8"));
  if (typeof body === "string") Buffer.from(bytes).write(body, "utf8");
  else body.copy(Buffer.from(bytes));
  return bytes;
}

function inspect({ id, api, body }: ParseJob): { result: ParseJobResult; transfer: ArrayBuffer[] } {
  try {
    const text = requestBodyText(Buffer.from(body));
    const object = requestBodyObject(text);
    const parsed = PROVIDER_APIS[api].parseRequest(object, text);
    const rewrittenBody = parsed.rewrittenBody === undefined ? undefined : ownBytes(parsed.rewrittenBody);
    const result: ParseJobInspection = {
      id,
      body,
      model: parsed.model,
      stream: parsed.stream,
      prompt: parsed.prompt,
      correlatingToolCallId: parsed.correlatingToolCallId,
      rewrittenBody,
      clientEvent: parsed.clientEvent === undefined ? undefined : clientEventFilterName(parsed.clientEvent),
      clientSessionBody: clientSessionBody(object),
    };
    return { result, transfer: rewrittenBody === undefined ? [body] : [body, rewrittenBody] };
  } catch (err) {
    if (isInvalidRequestBodyError(err)) return { result: { id, error: "invalid_body", detail: err.detail }, transfer: [] };
    if (isUnsupportedRequestError(err)) return { result: { id, error: "unsupported", message: err.message, detail: err.detail }, transfer: [] };
    return { result: { id, error: "internal", message: err instanceof Error ? err.message : String(err) }, transfer: [] };
  }
}

parentPort?.on("message", (job: ParseJob) => {
  const { result, transfer } = inspect(job);
  parentPort!.postMessage(result, transfer);
});
