// Reading an incoming request body with a size limit.

import type { IncomingMessage } from "node:http";
import { RequestBodyTooLargeError } from "./errors.js";

/** Collects the whole body; rejects with RequestBodyTooLargeError beyond `limitBytes`. */
export function readRequestBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limitBytes) {
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
    // The listeners stay (the request is read once and then dropped); they do nothing once settled.
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      if (settled) return;
      size += chunk.length;
      if (size > limitBytes) {
        req.resume();
        fail(new RequestBodyTooLargeError(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size));
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
