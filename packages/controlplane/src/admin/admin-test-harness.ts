// Test support for the admin API's tests (not exported from the package): the API served as the
// daemon serves it — HTTP/1.1 through node:http and HTTP/2 (h2c) through node:http2 — on loopback
// ports, a migrated database of the test file's own, a bootstrapped owner and a member, and
// request helpers for both protocols.
// Why two servers: on Node 20, http2.createServer({ allowHTTP1: true }) falls back to HTTP/1.1
// only through TLS ALPN; in cleartext an HTTP/1.1 client gets HTTP/2 frames back. The daemon
// splits one cleartext port by the connection preface (server/cleartext-listener.ts) and hands
// each connection to an http.Server or an Http2Server, i.e. exactly these two request types.
import { createServer as createHttpServer } from "node:http";
import { connect as connectHttp2, createServer as createHttp2Server, type IncomingHttpHeaders } from "node:http2";
import type { Socket } from "node:net";
import { Writable } from "node:stream";
import pino from "pino";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";
import { createAdminApi, type AdminApi, type AdminApiDeps } from "./admin-api.js";
import { bootstrapOwner } from "./bootstrap.js";

export interface ServedAdminApi {
  /** HTTP/1.1 base URL (fetch). */
  readonly baseUrl: string;
  /** HTTP/2 cleartext base URL (http2.connect). */
  readonly h2Url: string;
  close(): Promise<void>;
}

/** Serves `api` on two fresh loopback ports; close() also ends every open connection. */
export async function serveAdminApi(api: AdminApi): Promise<ServedAdminApi> {
  const h1 = createHttpServer((req, res) => void api.handle(req, res));
  const h2 = createHttp2Server((req, res) => void api.handle(req, res));
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  };
  h1.on("connection", track);
  h2.on("connection", track);
  const listen = (server: { listen(port: number, host: string, cb: () => void): unknown; address(): unknown }) =>
    new Promise<number>((resolve) =>
      server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
    );
  const [p1, p2] = await Promise.all([listen(h1), listen(h2)]);
  const close = (server: { close(cb: () => void): unknown }) => new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    baseUrl: `http://127.0.0.1:${p1}`,
    h2Url: `http://127.0.0.1:${p2}`,
    close: async () => {
      const closing = Promise.all([close(h1), close(h2)]);
      for (const socket of sockets) socket.destroy();
      await closing;
    },
  };
}

export interface CallOptions {
  /** Sent as `Authorization: Bearer`; null sends no credential. */
  readonly token?: string | null;
  /** JSON-encoded unless `raw` is given. */
  readonly body?: unknown;
  readonly raw?: string | Buffer | ReadableStream<Uint8Array>;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface CallResult {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The parsed body; undefined when empty. */
  readonly json: any;
}

export async function call(baseUrl: string, method: string, path: string, options: CallOptions = {}): Promise<CallResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: RequestInit["body"];
  if (options.raw !== undefined) body = options.raw as RequestInit["body"];
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] = "application/json";
  }
  const init: RequestInit & { duplex?: "half" } = { method, headers, body };
  if (options.raw instanceof ReadableStream) init.duplex = "half";
  const res = await fetch(baseUrl + path, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text === "" ? undefined : JSON.parse(text) };
}

export interface H2CallResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  readonly json: any;
}

/** One request over a fresh HTTP/2 cleartext session (closed afterwards). */
export async function callH2(h2Url: string, method: string, path: string, options: CallOptions & { readonly raw?: string | Buffer } = {}): Promise<H2CallResult> {
  const session = connectHttp2(h2Url);
  try {
    return await new Promise<H2CallResult>((resolve, reject) => {
      session.on("error", reject);
      const headers: Record<string, string> = { ":method": method, ":path": path, ...options.headers };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      const payload = options.raw ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined);
      const stream = session.request(headers, { endStream: payload === undefined });
      let responseHeaders: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on("response", (h) => (responseHeaders = h));
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", reject);
      stream.on("close", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: Number(responseHeaders[":status"]), headers: responseHeaders, text, json: text === "" ? undefined : JSON.parse(text) });
      });
      if (payload !== undefined) stream.end(payload);
    });
  } finally {
    session.destroy();
  }
}

export interface AdminHarness {
  readonly t: TestDatabase;
  readonly baseUrl: string;
  readonly h2Url: string;
  readonly owner: { readonly id: string; readonly key: string };
  readonly member: { readonly id: string; readonly key: string };
  /** Every log line the API wrote (JSON text). */
  readonly logs: string[];
  /** `call` as the owner unless `token` says otherwise. */
  call(method: string, path: string, options?: CallOptions): Promise<CallResult>;
  /** Another API over the same database (e.g. with other deps), served on its own port. */
  serve(deps: Partial<AdminApiDeps>): Promise<ServedAdminApi>;
  close(): Promise<void>;
}

export async function startAdminHarness(deps: Partial<Omit<AdminApiDeps, "db">> = {}): Promise<AdminHarness> {
  const t = await createTestDatabase();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString("utf8"));
      done();
    },
  });
  const logger = pino({ level: "debug" }, sink);
  const servers: ServedAdminApi[] = [];
  const serve = async (more: Partial<AdminApiDeps>) => {
    const served = await serveAdminApi(createAdminApi({ db: t.db, logger, ...deps, ...more }));
    servers.push(served);
    return served;
  };
  const main = await serve({});
  const boot = await bootstrapOwner(t.db, { username: "owner", email: "owner@example.com" });
  const owner = { id: boot.user.id, key: boot.key };
  const created = await call(main.baseUrl, "POST", "/api/v2/users", { token: owner.key, body: { username: "member" } });
  if (created.status !== 201) throw new Error(`create member: ${created.status} ${created.text}`);
  const issued = await call(main.baseUrl, "POST", `/api/v2/users/${created.json.id}/keys`, { token: owner.key, body: {} });
  if (issued.status !== 201) throw new Error(`create member key: ${issued.status} ${issued.text}`);
  const member = { id: created.json.id as string, key: issued.json.key as string };
  return {
    t,
    baseUrl: main.baseUrl,
    h2Url: main.h2Url,
    owner,
    member,
    logs,
    call: (method, path, options = {}) => call(main.baseUrl, method, path, { token: owner.key, ...options }),
    serve,
    close: async () => {
      await Promise.all(servers.map((s) => s.close()));
      await t.drop();
    },
  };
}
