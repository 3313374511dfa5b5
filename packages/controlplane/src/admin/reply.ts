// What a route handler answers, and how it is written to HTTP/1.1 and HTTP/2 compat responses.

/** A response to send: a status, and a JSON body unless the status has none (204). */
export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** The error body shape of every admin endpoint. */
export interface ErrorBody {
  readonly message: string;
  readonly detail?: string;
  readonly validations?: readonly { readonly field: string; readonly detail: string }[];
}

/**
 * The part of http.ServerResponse and http2.Http2ServerResponse the admin API uses. Their
 * method signatures differ enough that TypeScript cannot call them through the union.
 */
export interface AdminResponse {
  statusCode: number;
  readonly headersSent: boolean;
  setHeader(name: string, value: string | number | readonly string[]): unknown;
  end(data?: string): unknown;
}

export function json(status: number, body: unknown): Reply {
  return { status, body };
}

export function noContent(): Reply {
  return { status: 204 };
}

/** `headOnly` (a HEAD request): every header of the reply, Content-Length included, but no body. */
export function writeReply(res: AdminResponse, reply: Reply, options: { readonly headOnly?: boolean } = {}): void {
  res.statusCode = reply.status;
  // SECURITY: bodies may carry a freshly created key; keep them out of every cache.
  res.setHeader("cache-control", "no-store");
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  if (reply.status === 204 || reply.body === undefined) {
    res.end();
    return;
  }
  const text = JSON.stringify(reply.body);
  res.setHeader("content-type", "application/json");
  res.setHeader("content-length", Buffer.byteLength(text));
  if (options.headOnly) res.end();
  else res.end(text);
}
