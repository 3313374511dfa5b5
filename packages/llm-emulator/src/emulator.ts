import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { isAuthorized, missingAuthMessage } from './auth.js';
import { parseControls } from './controls.js';
import type { Controls } from './controls.js';
import { emulatedErrorMessage, errorBody } from './errors.js';
import type { ErrorShape } from './errors.js';
import { Exchange } from './exchange.js';
import { newId } from './ids.js';
import { asObject, asString, tryParseJson } from './json.js';
import type { JsonObject } from './json.js';
import type { ReceivedRequest } from './received-request.js';
import { RequestRecorder } from './recorder.js';
import type { Reply } from './reply.js';
import { ANTHROPIC_PREFIX, OPENAI_PREFIX, errorShapeFor, matchRoute } from './routes.js';
import type { Route } from './routes.js';
import { writeSse } from './sse.js';

export interface LlmEmulatorOptions {
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Port to bind; default 0 (ephemeral). */
  port?: number;
  /** Record received requests; default true. Turn off for benchmarks. */
  record?: boolean;
  /** Ring-buffer size of the recording; default 10_000. */
  maxRecorded?: number;
  /** Optional logger; per-request lines are logged at debug level only. */
  logger?: Logger;
}

export interface LlmEmulator {
  start(): Promise<void>;
  /** `http://127.0.0.1:<port>`; throws before start(). */
  readonly url: string;
  readonly port: number;
  /** `${url}/openai/v1`, the `baseURL` for the openai client. */
  readonly openaiBaseUrl: string;
  /** `${url}/anthropic`, the `baseURL` for the Anthropic client. */
  readonly anthropicBaseUrl: string;
  /** Recorded requests, oldest first (a snapshot array of live entries). */
  readonly requests: readonly ReceivedRequest[];
  clearRequests(): void;
  /** Resolves with the recorded requests once at least `count` are recorded. */
  waitForRequests(count: number, timeoutMs?: number): Promise<readonly ReceivedRequest[]>;
  /** Closes the server and every open connection; safe to call repeatedly. */
  shutdown(): Promise<void>;
}

const ADMIN_REQUESTS_PATH = '/_emulator/requests';
const ADMIN_HEALTH_PATH = '/_emulator/health';
const DEFAULT_WAIT_MS = 5_000;
const JSON_CONTENT_TYPE = 'application/json';

export function createLlmEmulator(options: LlmEmulatorOptions = {}): LlmEmulator {
  const host = options.host ?? '127.0.0.1';
  const record = options.record ?? true;
  const recorder = new RequestRecorder(Math.max(0, options.maxRecorded ?? 10_000));
  const logger = options.logger;

  let server: Server | undefined;
  let port = 0;
  let closing: Promise<void> | undefined;

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const first = chunks[0];
      const body =
        first === undefined ? '' : chunks.length === 1 ? first.toString('utf8') : Buffer.concat(chunks).toString('utf8');
      handle(req, res, body);
    });
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const q = path.indexOf('?');
    const pathname = q < 0 ? path : path.slice(0, q);

    if (pathname.startsWith('/_emulator/')) {
      handleAdmin(method, pathname, res);
      return;
    }

    const json = tryParseJson(body);
    let entry: ReceivedRequest | undefined;
    if (record) {
      entry = {
        seq: recorder.nextSeq(),
        method,
        path,
        headers: collectHeaders(req.rawHeaders),
        body,
        json,
        receivedAt: Date.now(),
        aborted: false,
        finished: false,
      };
      recorder.add(entry);
    }
    const ex = new Exchange(req, res, entry);
    // Per-request lines only when a logger is given and debug is on (benchmarks stay silent).
    if (logger?.isLevelEnabled('debug')) logger.debug({ method, path }, 'llm-emulator request');

    const shape = errorShapeFor(pathname);
    const match = matchRoute(method, pathname);
    if (match === undefined) {
      sendError(res, shape, 404, `Unknown request URL: ${method} ${pathname}`);
      return;
    }
    const { route } = match;
    if (!isAuthorized(route.provider, req.headers)) {
      sendError(res, shape, 401, missingAuthMessage(route.provider));
      return;
    }

    let payload: JsonObject = EMPTY_BODY;
    let model = '';
    if (route.body) {
      const obj = asObject(json);
      if (obj === undefined) {
        sendError(res, shape, 400, 'The request body is not a valid JSON object.');
        return;
      }
      payload = obj;
      if (route.model) {
        const m = asString(obj.model);
        if (m === undefined || m === '') {
          sendError(res, shape, 400, 'model: Field required');
          return;
        }
        model = m;
      }
    }

    const controls = parseControls(req.headers, route.model ? model : undefined);
    const respond = (): void => reply(ex, shape, route, { body: payload, model, param: match.param, controls });
    if (controls.ttfbMs > 0) ex.after(controls.ttfbMs, respond);
    else respond();
  };

  const handleAdmin = (method: string, pathname: string, res: ServerResponse): void => {
    if (pathname === ADMIN_REQUESTS_PATH && method === 'GET') {
      sendJson(res, 200, JSON.stringify(recorder.list()));
    } else if (pathname === ADMIN_REQUESTS_PATH && method === 'DELETE') {
      sendJson(res, 200, JSON.stringify({ cleared: recorder.clear() }));
    } else if (pathname === ADMIN_HEALTH_PATH && method === 'GET') {
      sendJson(res, 200, '{"ok":true}');
    } else {
      sendError(res, 'plain', 404, `Unknown request URL: ${method} ${pathname}`);
    }
  };

  const baseUrl = (): string => {
    if (server === undefined) throw new Error('llm-emulator: start() has not been called');
    return `http://${urlHost(host)}:${port}`;
  };

  return {
    async start(): Promise<void> {
      if (server !== undefined) throw new Error('llm-emulator: already started');
      const s = createServer(onRequest);
      // Longer than typical client keep-alive timeouts, so the client closes idle
      // sockets first and never races a server-side close (ECONNRESET).
      s.keepAliveTimeout = 65_000;
      s.headersTimeout = 66_000;
      server = s;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        // Benchmarks open 1,000 streams at once: Node's default accept backlog (511) would drop
        // handshakes (the kernel caps this at net.core.somaxconn).
        s.listen({ port: options.port ?? 0, host, backlog: 4096 }, () => {
          s.off('error', reject);
          resolve();
        });
      });
      port = (s.address() as AddressInfo).port;
      logger?.info({ url: baseUrl() }, 'llm-emulator listening');
    },
    get url(): string {
      return baseUrl();
    },
    get port(): number {
      return port;
    },
    get openaiBaseUrl(): string {
      return baseUrl() + OPENAI_PREFIX;
    },
    get anthropicBaseUrl(): string {
      return baseUrl() + ANTHROPIC_PREFIX;
    },
    get requests(): readonly ReceivedRequest[] {
      return recorder.list();
    },
    clearRequests(): void {
      recorder.clear();
    },
    waitForRequests(count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<readonly ReceivedRequest[]> {
      return recorder.waitFor(count, timeoutMs);
    },
    shutdown(): Promise<void> {
      if (closing !== undefined) return closing;
      const s = server;
      recorder.cancelWaiters('llm-emulator: shut down');
      if (s === undefined || !s.listening) {
        closing = Promise.resolve();
        return closing;
      }
      closing = new Promise<void>((resolve) => {
        s.close(() => resolve());
        // Destroying every socket also fires 'close' on in-flight responses,
        // which clears their pending timers.
        s.closeAllConnections();
      });
      return closing;
    },
  };
}

const EMPTY_BODY: JsonObject = Object.freeze({});

function reply(
  ex: Exchange,
  shape: ErrorShape,
  route: Route,
  ctx: { body: JsonObject; model: string; param: string; controls: Controls },
): void {
  const { controls } = ctx;
  const requestIdHeader = route.provider === 'openai' ? 'x-request-id' : 'request-id';
  if (controls.status !== undefined) {
    const headers: Record<string, string> = { [requestIdHeader]: newId('req_') };
    if (controls.status === 429) headers['retry-after'] = '1';
    sendError(ex.res, shape, controls.status, emulatedErrorMessage(controls.status), headers);
    return;
  }
  const out: Reply = route.handle(ctx);
  if (out.kind === 'sse') {
    writeSse(ex, out.events, {
      eventDelayMs: controls.eventDelayMs,
      disconnectAfter: controls.disconnectAfter,
      headers: { [requestIdHeader]: newId('req_') },
    });
    return;
  }
  if (controls.disconnectAfter !== undefined) {
    // Blocking request: the upstream dies before answering.
    ex.disconnect();
    return;
  }
  sendJson(ex.res, out.status, out.body, { [requestIdHeader]: newId('req_'), ...out.headers });
}

function sendJson(res: ServerResponse, status: number, body: string, headers?: Record<string, string>): void {
  res.writeHead(status, {
    'content-type': JSON_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function sendError(
  res: ServerResponse,
  shape: ErrorShape,
  status: number,
  message: string,
  headers?: Record<string, string>,
): void {
  sendJson(res, status, errorBody(shape, status, message), headers);
}

/** Lowercased names; repeated headers joined with ", " (unlike req.headers, which drops some duplicates). */
function collectHeaders(raw: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    if (name === '__proto__') continue;
    const value = raw[i + 1] ?? '';
    const prev = out[name];
    out[name] = prev === undefined ? value : `${prev}, ${value}`;
  }
  return out;
}

function urlHost(host: string): string {
  // Wildcard binds are reached through loopback.
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
