// A fake Weir control plane for tests: serves Recorder, MCPConfigurator and Authorizer over
// real HTTP/2 cleartext (node:http2 + connectNodeAdapter), enforces the gateway key and API
// version headers exactly like the real server (same codes and messages), keeps every record
// it receives in memory, and can be scripted to refuse users, fail RPCs or answer raw HTTP
// errors. shutdown() closes every HTTP/2 session so test processes exit.

import { createServer } from "node:http2";
import type { Http2Server, Http2ServerRequest, Http2ServerResponse, ServerHttp2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { ConnectError, Code } from "@connectrpc/connect";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  API_VERSION,
  API_VERSION_HEADER,
  Authorizer,
  GATEWAY_KEY_HEADER,
  IsAuthorizedFailureSchema,
  MCPConfigurator,
  Recorder,
  checkApiVersion,
  parseApiVersion,
} from "@weir/proto";
import type {
  RecordInterceptionEndedRequest,
  RecordInterceptionRequest,
  RecordModelThoughtRequest,
  RecordPromptUsageRequest,
  RecordTokenUsageRequest,
  RecordToolUsageRequest,
} from "@weir/proto";

/** A user API key the fake authorizes. */
export interface FakeUser {
  readonly key: string;
  readonly ownerId: string;
  readonly apiKeyId: string;
  readonly username: string;
}

/** A scripted IsAuthorized refusal; `reason` becomes the IsAuthorizedFailure detail. */
export interface FakeAuthFailure {
  readonly code: Code;
  readonly reason?: string;
  readonly message?: string;
}

export type FakeRpcMethod =
  | "RecordInterception"
  | "RecordInterceptionEnded"
  | "RecordTokenUsage"
  | "RecordPromptUsage"
  | "RecordToolUsage"
  | "RecordModelThought"
  | "GetMCPServerConfigs"
  | "GetMCPServerAccessTokensBatch"
  | "IsAuthorized";

export interface FakeControlPlaneOptions {
  /** The gateway key accepted. */
  readonly gatewayKey: string;
  /** The server's API version; default API_VERSION. */
  readonly apiVersion?: string;
  readonly host?: string;
  /** Default 0 (ephemeral). */
  readonly port?: number;
}

/** One RPC as it reached the server (before any check). */
export interface FakeCall {
  readonly method: string;
  readonly at: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface ScriptedFailure {
  remaining: number;
  readonly code: Code;
  readonly message: string;
}

export class FakeControlPlane {
  readonly interceptions: RecordInterceptionRequest[] = [];
  readonly ended: RecordInterceptionEndedRequest[] = [];
  readonly tokenUsages: RecordTokenUsageRequest[] = [];
  readonly prompts: RecordPromptUsageRequest[] = [];
  readonly toolUsages: RecordToolUsageRequest[] = [];
  readonly thoughts: RecordModelThoughtRequest[] = [];
  readonly calls: FakeCall[] = [];
  /** RPCs answered with an error because of a script (counted per method). */
  readonly scriptedFailures = new Map<string, number>();

  private readonly users = new Map<string, FakeUser>();
  private readonly authFailures = new Map<string, FakeAuthFailure>();
  private readonly failures = new Map<string, ScriptedFailure[]>();
  private readonly holds = new Map<string, { gate: Promise<void>; release: () => void }>();
  private readonly sessions = new Set<ServerHttp2Session>();
  private httpFailures: { remaining: number; status: number } | undefined;
  private server: Http2Server | undefined;
  private boundPort = 0;
  private gatewayKey: string;
  private readonly serverVersion: string;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: FakeControlPlaneOptions) {
    this.gatewayKey = options.gatewayKey;
    this.serverVersion = options.apiVersion ?? API_VERSION;
  }

  get url(): string {
    if (this.server === undefined) throw new Error("fake control plane not started");
    return `http://${this.options.host ?? "127.0.0.1"}:${this.boundPort}`;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Number of RPCs that reached the server. */
  get rpcCount(): number {
    return this.calls.length;
  }

  /** Calls of one method. */
  callsOf(method: FakeRpcMethod): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  addUser(user: FakeUser): void {
    this.users.set(user.key, user);
  }

  /** Makes IsAuthorized refuse `key`. */
  failAuthorization(key: string, failure: FakeAuthFailure): void {
    this.authFailures.set(key, failure);
  }

  /** Replaces the accepted gateway key (e.g. to simulate deleting the old one). */
  setGatewayKey(key: string): void {
    this.gatewayKey = key;
  }

  /** The next `count` calls of `method` (that pass the header checks) fail with `code`. */
  failNext(method: FakeRpcMethod, count: number, code: Code, message = `scripted ${Code[code]}`): void {
    const list = this.failures.get(method) ?? [];
    list.push({ remaining: count, code, message });
    this.failures.set(method, list);
  }

  /** The next `count` HTTP requests get a raw `status` answer (no Connect framing), e.g. 503 from a proxy. */
  failHttp(count: number, status: number): void {
    this.httpFailures = { remaining: count, status };
  }

  /** Calls of `method` wait (after being checked) until the returned release() is called. */
  hold(method: FakeRpcMethod): { release: () => void } {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const entry = {
      gate,
      release: (): void => {
        if (this.holds.get(method) === entry) this.holds.delete(method);
        release();
      },
    };
    this.holds.set(method, entry);
    return { release: entry.release };
  }

  /** All records of one interception. */
  recordsOf(interceptionId: string): {
    interception: RecordInterceptionRequest | undefined;
    ended: RecordInterceptionEndedRequest[];
    tokenUsages: RecordTokenUsageRequest[];
    prompts: RecordPromptUsageRequest[];
    toolUsages: RecordToolUsageRequest[];
    thoughts: RecordModelThoughtRequest[];
  } {
    return {
      interception: this.interceptions.find((i) => i.id === interceptionId),
      ended: this.ended.filter((e) => e.id === interceptionId),
      tokenUsages: this.tokenUsages.filter((r) => r.interceptionId === interceptionId),
      prompts: this.prompts.filter((r) => r.interceptionId === interceptionId),
      toolUsages: this.toolUsages.filter((r) => r.interceptionId === interceptionId),
      thoughts: this.thoughts.filter((r) => r.interceptionId === interceptionId),
    };
  }

  /** Resolves once `predicate` holds; rejects after `timeoutMs`. Polls, never sleeps for logic. */
  async waitFor(predicate: () => boolean, timeoutMs = 5_000, what = "condition"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`fake control plane: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => setTimeout(resolve, 5));
    }
  }

  async start(): Promise<void> {
    if (this.server !== undefined) throw new Error("already started");
    const handler = connectNodeAdapter({
      routes: (router) => this.routes(router),
      interceptors: [this.checkHeaders()],
    });
    const server = createServer((req: Http2ServerRequest, res: Http2ServerResponse) => {
      this.calls.push({ method: (req.url ?? "").split("/").pop() ?? "", at: Date.now() });
      const failure = this.httpFailures;
      if (failure !== undefined && failure.remaining > 0) {
        failure.remaining -= 1;
        res.writeHead(failure.status, { "content-type": "text/plain" });
        res.end(`fake control plane: scripted HTTP ${failure.status}`);
        return;
      }
      handler(req, res);
    });
    server.on("session", (session: ServerHttp2Session) => {
      this.sessions.add(session);
      session.on("close", () => this.sessions.delete(session));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.options.port ?? 0, this.options.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.boundPort = (server.address() as AddressInfo).port;
  }

  /** Closes every HTTP/2 session and the listener. Idempotent. */
  shutdown(): Promise<void> {
    this.closing ??= (async () => {
      const server = this.server;
      if (server === undefined) return;
      for (const hold of [...this.holds.values()]) hold.release();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of this.sessions) session.destroy();
      await closed;
    })();
    return this.closing;
  }

  private checkHeaders(): Interceptor {
    return (next) => async (req) => {
      const key = req.header.get(GATEWAY_KEY_HEADER);
      if (key === null || key === "") throw new ConnectError("AI Gateway key required.", Code.Unauthenticated);
      if (key !== this.gatewayKey) throw new ConnectError("AI Gateway key invalid.", Code.Unauthenticated);
      const check = checkApiVersion(req.header.get(API_VERSION_HEADER) ?? "", { version: parseApiVersion(this.serverVersion) });
      if (!check.ok) throw new ConnectError(check.reason, Code.FailedPrecondition);
      const method = req.method.name;
      const scripted = this.failures.get(method)?.find((f) => f.remaining > 0);
      if (scripted !== undefined) {
        scripted.remaining -= 1;
        this.scriptedFailures.set(method, (this.scriptedFailures.get(method) ?? 0) + 1);
        throw new ConnectError(scripted.message, scripted.code);
      }
      const hold = this.holds.get(method);
      if (hold !== undefined) await hold.gate;
      return next(req);
    };
  }

  private routes(router: ConnectRouter): void {
    const requireUuid = (value: string, what: string): void => {
      if (!UUID.test(value)) throw new ConnectError(`invalid ${what}`, Code.InvalidArgument);
    };
    const requireInterception = (id: string): void => {
      requireUuid(id, "interception ID");
      if (!this.interceptions.some((i) => i.id === id)) throw new ConnectError("interception not found", Code.NotFound);
    };
    router.service(Recorder, {
      recordInterception: (req) => {
        requireUuid(req.id, "interception ID");
        requireUuid(req.initiatorId, "initiator ID");
        if (req.apiKeyId === "") throw new ConnectError("api key id required", Code.InvalidArgument);
        this.interceptions.push(req);
        return {};
      },
      recordInterceptionEnded: (req) => {
        requireInterception(req.id);
        this.ended.push(req);
        return {};
      },
      recordTokenUsage: (req) => {
        requireInterception(req.interceptionId);
        this.tokenUsages.push(req);
        return {};
      },
      recordPromptUsage: (req) => {
        requireInterception(req.interceptionId);
        this.prompts.push(req);
        return {};
      },
      recordToolUsage: (req) => {
        requireInterception(req.interceptionId);
        this.toolUsages.push(req);
        return {};
      },
      recordModelThought: (req) => {
        requireInterception(req.interceptionId);
        this.thoughts.push(req);
        return {};
      },
    });
    router.service(MCPConfigurator, {
      getMCPServerConfigs: () => ({ externalAuthMcpConfigs: [] }),
      getMCPServerAccessTokensBatch: () => ({ accessTokens: {}, errors: {} }),
    });
    router.service(Authorizer, {
      isAuthorized: (req) => {
        const refuse = (code: Code, reason: string, message = reason.replace(/_/g, " ")): never => {
          throw new ConnectError(message, code, undefined, [{ desc: IsAuthorizedFailureSchema, value: { reason } }]);
        };
        if (req.key !== "" && req.keyId !== "") refuse(Code.InvalidArgument, "ambiguous", "both key and key_id set; exactly one required");
        if (req.keyId !== "") refuse(Code.PermissionDenied, "delegation_not_allowed");
        const scripted = this.authFailures.get(req.key);
        if (scripted !== undefined) {
          if (scripted.reason === undefined) throw new ConnectError(scripted.message ?? "refused", scripted.code);
          refuse(scripted.code, scripted.reason, scripted.message);
        }
        const user = this.users.get(req.key);
        if (user === undefined) refuse(Code.Unauthenticated, "unknown_key");
        return { ownerId: user?.ownerId ?? "", apiKeyId: user?.apiKeyId ?? "", username: user?.username ?? "" };
      },
    });
  }
}

export function createFakeControlPlane(options: FakeControlPlaneOptions): FakeControlPlane {
  return new FakeControlPlane(options);
}
