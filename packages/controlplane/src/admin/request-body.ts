// Reading request bodies with a hard size limit, for HTTP/1.1 and HTTP/2 compat requests alike.
// Bytes are counted as they arrive; past the limit nothing more is buffered and the caller
// answers 413 at once (see admin-api.ts for how the connection or stream is then cut short).
import { BodyTooLargeError, InvalidRequestError, RequestAbortedError } from "./errors.js";

/** 1 MiB: far above any admin request; a guard against memory exhaustion. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** The part of http.IncomingMessage and http2.Http2ServerRequest the admin API uses. */
export interface AdminRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly httpVersionMajor: number;
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  on(event: "end" | "close", listener: () => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
}

/** Request body bytes; rejects with BodyTooLargeError past `limit`. */
export function readBody(req: AdminRequest, limit = MAX_BODY_BYTES): Promise<Buffer> {
  // A declared length over the limit is refused before a single byte is read.
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLargeError(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      req.removeListener("data", onData);
      req.removeListener("end", onEnd);
      req.removeListener("error", onError);
      req.removeListener("close", onClose);
      outcome();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) settle(() => reject(new BodyTooLargeError(limit)));
      else chunks.push(chunk);
    };
    const onEnd = () => settle(() => resolve(Buffer.concat(chunks, size)));
    const onError = (err: Error) => settle(() => reject(new RequestAbortedError({ cause: err })));
    const onClose = () => settle(() => reject(new RequestAbortedError()));
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The body parsed as JSON, or undefined when it is empty; 400 "Request body must be valid JSON."
 * with the parser's complaint as detail.
 */
export async function readJsonBody(req: AdminRequest, limit = MAX_BODY_BYTES): Promise<unknown> {
  const raw = await readBody(req, limit);
  if (raw.length === 0) return undefined;
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new InvalidRequestError("Request body must be valid JSON.", { detail: "Request body is not valid UTF-8." });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new InvalidRequestError("Request body must be valid JSON.", { detail: (err as Error).message });
  }
}
