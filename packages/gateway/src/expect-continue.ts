// `Expect: 100-continue` (RFC 9110 §10.1.1): a client that asks first sends its body only once
// told to go on. Node's default says so before any listener runs, so a client with a bad key or
// an oversized body was invited to upload it (curl asks for every body over 1 MiB) before being
// refused. Here the go-ahead waits until the request is authorized and its declared size fits;
// a refusal before it makes Node close the connection after the answer, and the client need
// not send the body at all.
import type { IncomingMessage, ServerResponse } from "node:http";
import { RequestBodyTooLargeError } from "./errors.js";
import { declaresMoreThan } from "./request-body.js";

/** Responses whose client still waits for its 100 Continue. */
const awaitingContinue = new WeakSet<ServerResponse>();

/** A server's 'checkContinue' listener: serves the request with `listener`, the 100 held back. */
export function holdingContinue(
  listener: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    awaitingContinue.add(res);
    listener(req, res);
  };
}

/**
 * Tells a waiting client to send its body, unless the size it declares is over `limitBytes`
 * (then RequestBodyTooLargeError, and no 100). Does nothing for any other request.
 */
export function grantContinue(req: IncomingMessage, res: ServerResponse, limitBytes: number): void {
  if (!awaitingContinue.delete(res)) return;
  if (declaresMoreThan(req, limitBytes)) throw new RequestBodyTooLargeError(limitBytes);
  res.writeContinue();
}
