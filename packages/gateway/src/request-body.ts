// Reading an incoming request body with a size limit.

import type { IncomingMessage } from "node:http";
import { RequestBodyTooLargeError } from "./errors.js";

/** A large body's declared size is reserved once this fraction of it (1/N) has arrived. */
const PRESIZE_AFTER_FRACTION = 32;

/**
 * Collects the whole body; rejects with RequestBodyTooLargeError beyond `limitBytes`. A body
 * declaring at least `presizeFromBytes` (a large one) is copied into a buffer of its declared
 * size chunk by chunk as it arrives, instead of joined at the end: one join of tens of MiB held
 * the event loop for hundreds of milliseconds (fresh memory faulted in page by page), and the
 * buffer owns its memory, so the parse thread can take it without a copy. That buffer is made
 * only once a 32nd of the declared size has arrived: a client cannot make the gateway reserve
 * 32 MiB per connection by declaring it and sending nothing.
 */
/** Whether the request's Content-Length declares more than `limitBytes`. */
export function declaresMoreThan(req: IncomingMessage, limitBytes: number): boolean {
  const declared = Number(req.headers["content-length"]);
  return Number.isFinite(declared) && declared > limitBytes;
}

export function readRequestBody(req: IncomingMessage, limitBytes: number, presizeFromBytes = Number.POSITIVE_INFINITY): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (declaresMoreThan(req, limitBytes)) {
      req.resume();
      reject(new RequestBodyTooLargeError(limitBytes));
      return;
    }
    // Usually the whole body arrived with the headers and is buffered already: take it at once
    // instead of a round through flowing mode (listeners, ticks, 'end'). The request may not be
    // `complete` yet even then: Node runs promise continuations between the parser's body
    // callback and its message-complete callback, so a buffered body as long as the declared
    // Content-Length is whole too (the parser never delivers more than that).
    if (req.complete || (Number.isFinite(declared) && req.readableLength === declared)) {
      const buffered = req.readableLength;
      if (buffered > limitBytes) {
        req.resume();
        reject(new RequestBodyTooLargeError(limitBytes));
        return;
      }
      const all = buffered === 0 ? null : (req.read(buffered) as Buffer | null);
      if (buffered === 0 || all !== null) {
        req.resume(); // lets 'end' fire and the connection be reused
        resolve(all ?? Buffer.alloc(0));
        return;
      }
    }
    const chunks: Buffer[] = [];
    let size = 0;
    // Bytes after which the declared size is reserved (Infinity: never, a small or undeclared body).
    const presizeAt = Number.isFinite(declared) && declared >= presizeFromBytes ? Math.floor(declared / PRESIZE_AFTER_FRACTION) : Number.POSITIVE_INFINITY;
    let presized: Buffer | undefined;
    // The listeners stay (the request is read once and then dropped); they do nothing once settled.
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      if (settled) return;
      const at = size;
      size += chunk.length;
      if (size > limitBytes) {
        req.resume();
        fail(new RequestBodyTooLargeError(limitBytes));
        return;
      }
      if (presized === undefined && size >= presizeAt && size <= declared) {
        presized = Buffer.allocUnsafeSlow(declared);
        let offset = 0;
        for (const c of chunks) offset += c.copy(presized, offset);
        chunks.length = 0;
        chunk.copy(presized, at);
      } else if (presized !== undefined && size <= presized.length) {
        chunk.copy(presized, at);
      } else {
        // More than declared (which Node's parser never delivers): joined at the end after all.
        if (presized !== undefined) chunks.push(presized.subarray(0, at));
        presized = undefined;
        chunks.push(chunk);
      }
    };
    const onEnd = (): void => {
      if (settled) return;
      settled = true;
      if (presized !== undefined) resolve(size === presized.length ? presized : presized.subarray(0, size));
      else resolve(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => fail(new Error("read request body", { cause: err }));
    const onClose = (): void => {
      if (!req.complete) fail(new Error("client closed the connection while sending the body"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}
