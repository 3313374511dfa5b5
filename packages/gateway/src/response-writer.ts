// Writing to the client: gateway-originated JSON errors, and writes that respect backpressure.

import type { ServerResponse } from "node:http";
import { once } from "node:events";
import type { AbortSource } from "./cancellation.js";
import type { HttpErrorResponse } from "./errors.js";
import { providerErrorEnvelope } from "./providers/error-envelope.js";
import type { ProviderName } from "./routes.js";

/**
 * Sends a gateway-originated error: JSON `{message, detail?}`, plus, on a provider's routes, that
 * provider's own error envelope saying the same (its `error` object, which the official SDKs
 * show). No-op when the client is gone.
 */
export function sendGatewayError(
  res: ServerResponse,
  error: HttpErrorResponse,
  headers: Record<string, string> = {},
  provider: ProviderName | undefined = undefined,
): void {
  const body: { message: string; detail?: string } = { message: error.message };
  if (error.detail !== undefined) body.detail = error.detail;
  // "not enabled. Contact …", not "not enabled.: Contact …": a sentence is followed by a sentence.
  const text = error.detail === undefined ? error.message : `${error.message}${error.message.endsWith(".") ? " " : ": "}${error.detail}`;
  const payload = provider === undefined ? body : { ...body, ...providerErrorEnvelope(provider, error.status, text) };
  sendJson(res, error.status, JSON.stringify(payload), { ...error.headers, ...headers });
}

/** Sends a complete JSON body. No-op when the client is gone or headers were already sent. */
export function sendJson(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed || res.writableEnded) return;
  const payload = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": String(payload.length),
  });
  res.end(payload);
}

/**
 * Writes a chunk: true when written, false when the client is gone. When the socket buffer is
 * full it returns a promise instead, settled once the buffer drained (true) or the response
 * closed or `cancellation` aborted (false) — so the common case costs no promise per chunk.
 */
export function writeChunk(res: ServerResponse, chunk: string | Uint8Array, cancellation: AbortSource): boolean | Promise<boolean> {
  if (res.destroyed || res.writableEnded) return false;
  if (res.write(chunk)) return true;
  if (cancellation.aborted) return false;
  return drained(res, cancellation);
}

async function drained(res: ServerResponse, cancellation: AbortSource): Promise<boolean> {
  const ac = new AbortController();
  const unlisten = cancellation.onAbort(() => ac.abort());
  try {
    await Promise.race([once(res, "drain", { signal: ac.signal }), once(res, "close", { signal: ac.signal })]);
  } catch {
    // aborted
  } finally {
    ac.abort();
    unlisten();
  }
  return !res.destroyed;
}
