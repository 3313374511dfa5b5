// A fake Weir control plane for tests: serves Recorder, MCPConfigurator and Authorizer over
// real HTTP/2 cleartext (node:http2 + connectNodeAdapter), enforces the gateway key and API
// version headers exactly like the real server (same codes and messages), keeps every record
// it receives in memory, and can be scripted to refuse users, fail RPCs or answer raw HTTP
// errors. shutdown() closes every HTTP/2 session so test processes exit.
//
// API 1.1: RecordBatch applies envelopes in order into the same record lists, idempotently by
// envelope id (a retried batch stores nothing twice), reporting per-record rejections; and
// WatchAuthorizationChanges streams a reset, then whatever the test pushes. Configured as 1.0
// (apiVersion "1.0") the fake serves neither — like a 1.0 control plane, they answer
// Unimplemented — and `unimplemented` leaves out any RPC explicitly.

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
  isUuid,
  parseApiVersion,
} from "@weir/proto";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  RecordEnvelope,
  WatchAuthorizationChangesResponseSchema,
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
  /** Returned as key_expires_at (API 1.1) when set. */
  readonly keyExpiresAt?: Date;
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
  | "IsAuthorized"
  | "RecordBatch"
  | "WatchAuthorizationChanges";

/** The record kinds of a RecordBatch envelope (RecordEnvelope.record case). */
export type FakeRecordKind = NonNullable<RecordEnvelope["record"]["case"]>;

/** One message of the authorization watch stream. */
export type FakeAuthorizationChange = MessageInitShape<typeof WatchAuthorizationChangesResponseSchema>;

/** The RPCs a 1.0 control plane does not have. */
export const API_1_1_RPCS: readonly FakeRpcMethod[] = Object.freeze(["RecordBatch", "WatchAuthorizationChanges"]);

export interface FakeControlPlaneOptions {
  /** The gateway key accepted. */
  readonly gatewayKey: string;
  /** The server's API version; default API_VERSION. */
  readonly apiVersion?: string;
  readonly host?: string;
  /** Default 0 (ephemeral). */
  readonly port?: number;
  /**
   * RPCs left out (answered Unimplemented). Default: none, or API_1_1_RPCS when apiVersion is
   * "1.0".
   */
  readonly unimplemented?: readonly FakeRpcMethod[];
}

/** One RPC as it reached the server (before any check). */
export interface FakeCall {
  readonly method: string;
  readonly at: number;
}


interface ScriptedFailure {
  remaining: number;
  readonly code: Code;
  readonly message: string;
}

interface FakeWatch {
  /** The gateway key the stream was opened with. */
  readonly gatewayKey: string;
  readonly queue: FakeAuthorizationChange[];
  wake: (() => void) | undefined;
  ended: { readonly code: Code | undefined } | undefined;
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
  /** Every record stored, in the order stored (per-record RPCs and RecordBatch alike). */
  readonly applied: { readonly kind: FakeRecordKind; readonly interceptionId: string }[] = [];
  /** RecordBatch envelopes rejected (id -> reason), in order. */
  readonly rejectedRecords: { readonly id: string; readonly reason: string }[] = [];

  private readonly users = new Map<string, FakeUser>();
  private readonly authFailures = new Map<string, FakeAuthFailure>();
  private readonly failures = new Map<string, ScriptedFailure[]>();
  private readonly holds = new Map<string, { gate: Promise<void>; release: () => void }>();
  private readonly failuresAfterApply = new Map<string, ScriptedFailure[]>();
  private readonly recordRejections = new Map<FakeRecordKind, { remaining: number; reason: string }>();
  /** Envelope ids RecordBatch stored (what makes it idempotent). */
  private readonly storedIds = new Set<string>();
  private readonly watches = new Set<FakeWatch>();
  private readonly unimplemented: ReadonlySet<string>;
  private readonly sessions = new Set<ServerHttp2Session>();
  private httpFailures: { remaining: number; status: number } | undefined;
  private server: Http2Server | undefined;
  private boundPort = 0;
  private gatewayKeys: Set<string>;
  private readonly serverVersion: string;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: FakeControlPlaneOptions) {
    this.gatewayKeys = new Set([options.gatewayKey]);
    this.serverVersion = options.apiVersion ?? API_VERSION;
    this.unimplemented = new Set(options.unimplemented ?? (parseApiVersion(this.serverVersion).minor === 0 && parseApiVersion(this.serverVersion).major === 1 ? API_1_1_RPCS : []));
  }

  /** Whether this fake serves `method` (see `unimplemented`). */
  serves(method: FakeRpcMethod): boolean {
    return !this.unimplemented.has(method);
  }

  /** Open WatchAuthorizationChanges streams. */
  get watchers(): number {
    return this.watches.size;
  }

  /** Sends `change` to every open watch stream. */
  pushAuthorizationChange(change: FakeAuthorizationChange): void {
    for (const watch of this.watches) {
      watch.queue.push(change);
      watch.wake?.();
    }
  }

  /** Tells watching gateways that an API key changed. */
  invalidateApiKey(apiKeyId: string): void {
    this.pushAuthorizationChange({ change: { case: "apiKey", value: { apiKeyId } } });
  }

  /** Tells watching gateways that a user changed. */
  invalidateUser(userId: string): void {
    this.pushAuthorizationChange({ change: { case: "user", value: { userId } } });
  }

  /** Deletes a user's key like the real control plane: refused from now on, watchers told. */
  revokeKey(user: FakeUser): void {
    this.users.delete(user.key);
    this.invalidateApiKey(user.apiKeyId);
  }

  /** Ends every watch stream, with `code` (an error) or cleanly (undefined). */
  endWatches(code: Code | undefined = Code.Unavailable): void {
    for (const watch of this.watches) {
      watch.ended = { code };
      watch.wake?.();
    }
  }

  /** The next `count` calls of `method` are served (records stored), then answered with `code` — as if the answer were lost. */
  failNextAfterApply(method: FakeRpcMethod, count: number, code: Code, message = `scripted ${Code[code]} after apply`): void {
    const list = this.failuresAfterApply.get(method) ?? [];
    list.push({ remaining: count, code, message });
    this.failuresAfterApply.set(method, list);
  }

  /** The next `count` records of `kind` are refused for good (in a batch, or by the per-record RPC with InvalidArgument). */
  rejectNextRecords(kind: FakeRecordKind, count: number, reason = `scripted rejection of ${kind}`): void {
    this.recordRejections.set(kind, { remaining: count, reason });
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

  /** Replaces the accepted gateway key (e.g. to simulate deleting the old one). Open watch streams stay open. */
  setGatewayKey(key: string): void {
    this.gatewayKeys = new Set([key]);
  }

  /** Accepts one more gateway key, as a second `weir keys create` does. */
  addGatewayKey(key: string): void {
    this.gatewayKeys.add(key);
  }

  /** Deletes a gateway key like the real control plane: refused from now on, its watch streams ended Unauthenticated. */
  deleteGatewayKey(key: string): void {
    this.gatewayKeys.delete(key);
    for (const watch of this.watches) {
      if (watch.gatewayKey !== key) continue;
      watch.ended = { code: Code.Unauthenticated };
      watch.wake?.();
    }
  }

  /** Open watch streams opened with `key`. */
  watchersWith(key: string): number {
    return [...this.watches].filter((w) => w.gatewayKey === key).length;
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
      this.endWatches(undefined);
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
      if (!this.gatewayKeys.has(key)) throw new ConnectError("AI Gateway key invalid.", Code.Unauthenticated);
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
      if (!isUuid(value)) throw new ConnectError(`invalid ${what}`, Code.InvalidArgument);
    };
    const requireInterception = (id: string): void => {
      requireUuid(id, "interception ID");
      if (!this.interceptions.some((i) => i.id === id)) throw new ConnectError("interception not found", Code.NotFound);
    };
    const scriptedRejection = (kind: FakeRecordKind): string | undefined => {
      const r = this.recordRejections.get(kind);
      if (r === undefined || r.remaining <= 0) return undefined;
      r.remaining -= 1;
      return r.reason;
    };
    const rejectIfScripted = (kind: FakeRecordKind): void => {
      const reason = scriptedRejection(kind);
      if (reason !== undefined) throw new ConnectError(reason, Code.InvalidArgument);
    };
    const store = {
      interception: (req: RecordInterceptionRequest): void => {
        requireUuid(req.id, "interception ID");
        requireUuid(req.initiatorId, "initiator ID");
        if (req.apiKeyId === "") throw new ConnectError("api key id required", Code.InvalidArgument);
        this.interceptions.push(req);
        this.applied.push({ kind: "interception", interceptionId: req.id });
      },
      interceptionEnded: (req: RecordInterceptionEndedRequest): void => {
        requireInterception(req.id);
        this.ended.push(req);
        this.applied.push({ kind: "interceptionEnded", interceptionId: req.id });
      },
      tokenUsage: (req: RecordTokenUsageRequest): void => {
        requireInterception(req.interceptionId);
        this.tokenUsages.push(req);
        this.applied.push({ kind: "tokenUsage", interceptionId: req.interceptionId });
      },
      promptUsage: (req: RecordPromptUsageRequest): void => {
        requireInterception(req.interceptionId);
        this.prompts.push(req);
        this.applied.push({ kind: "promptUsage", interceptionId: req.interceptionId });
      },
      toolUsage: (req: RecordToolUsageRequest): void => {
        requireInterception(req.interceptionId);
        this.toolUsages.push(req);
        this.applied.push({ kind: "toolUsage", interceptionId: req.interceptionId });
      },
      modelThought: (req: RecordModelThoughtRequest): void => {
        requireInterception(req.interceptionId);
        this.thoughts.push(req);
        this.applied.push({ kind: "modelThought", interceptionId: req.interceptionId });
      },
    };
    /** Stores one envelope; the reason when it is refused. */
    const applyEnvelope = (envelope: RecordEnvelope): string | undefined => {
      if (!isUuid(envelope.id)) return "invalid id: not a UUID";
      if (this.storedIds.has(envelope.id)) return undefined; // a retry: stored already
      const record = envelope.record;
      if (record.case === undefined) return "invalid record: required";
      const scripted = scriptedRejection(record.case);
      if (scripted !== undefined) return scripted;
      try {
        switch (record.case) {
          case "interception":
            store.interception(record.value);
            break;
          case "interceptionEnded":
            store.interceptionEnded(record.value);
            break;
          case "tokenUsage":
            store.tokenUsage(record.value);
            break;
          case "promptUsage":
            store.promptUsage(record.value);
            break;
          case "toolUsage":
            store.toolUsage(record.value);
            break;
          case "modelThought":
            store.modelThought(record.value);
            break;
        }
      } catch (err) {
        return ConnectError.from(err).rawMessage;
      }
      this.storedIds.add(envelope.id);
      return undefined;
    };
    const afterApply = (method: FakeRpcMethod): void => {
      const scripted = this.failuresAfterApply.get(method)?.find((f) => f.remaining > 0);
      if (scripted === undefined) return;
      scripted.remaining -= 1;
      this.scriptedFailures.set(method, (this.scriptedFailures.get(method) ?? 0) + 1);
      throw new ConnectError(scripted.message, scripted.code);
    };
    const served = <T extends object>(impl: T): Partial<T> =>
      Object.fromEntries(Object.entries(impl).filter(([name]) => !this.unimplemented.has(name.charAt(0).toUpperCase() + name.slice(1)))) as Partial<T>;

    router.service(
      Recorder,
      served({
        recordInterception: (req: RecordInterceptionRequest) => {
          rejectIfScripted("interception");
          store.interception(req);
          afterApply("RecordInterception");
          return {};
        },
        recordInterceptionEnded: (req: RecordInterceptionEndedRequest) => {
          rejectIfScripted("interceptionEnded");
          store.interceptionEnded(req);
          afterApply("RecordInterceptionEnded");
          return {};
        },
        recordTokenUsage: (req: RecordTokenUsageRequest) => {
          rejectIfScripted("tokenUsage");
          store.tokenUsage(req);
          afterApply("RecordTokenUsage");
          return {};
        },
        recordPromptUsage: (req: RecordPromptUsageRequest) => {
          rejectIfScripted("promptUsage");
          store.promptUsage(req);
          afterApply("RecordPromptUsage");
          return {};
        },
        recordToolUsage: (req: RecordToolUsageRequest) => {
          rejectIfScripted("toolUsage");
          store.toolUsage(req);
          afterApply("RecordToolUsage");
          return {};
        },
        recordModelThought: (req: RecordModelThoughtRequest) => {
          rejectIfScripted("modelThought");
          store.modelThought(req);
          afterApply("RecordModelThought");
          return {};
        },
        recordBatch: (req: { records: RecordEnvelope[] }) => {
          const rejected: { id: string; reason: string }[] = [];
          for (const envelope of req.records) {
            const reason = applyEnvelope(envelope);
            if (reason !== undefined) rejected.push({ id: envelope.id, reason });
          }
          this.rejectedRecords.push(...rejected);
          afterApply("RecordBatch");
          return { rejected };
        },
      }),
    );
    router.service(MCPConfigurator, {
      getMCPServerConfigs: () => ({ externalAuthMcpConfigs: [] }),
      getMCPServerAccessTokensBatch: () => ({ accessTokens: {}, errors: {} }),
    });
    router.service(
      Authorizer,
      served({
        isAuthorized: (req: { key: string; keyId: string }) => {
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
          if (user === undefined) return refuse(Code.Unauthenticated, "unknown_key");
          return {
            ownerId: user.ownerId,
            apiKeyId: user.apiKeyId,
            username: user.username,
            ...(user.keyExpiresAt !== undefined ? { keyExpiresAt: timestampFromMs(user.keyExpiresAt.getTime()) } : {}),
          };
        },
        watchAuthorizationChanges: (_req: unknown, ctx: { signal: AbortSignal; requestHeader: Headers }) => this.watch(ctx.signal, ctx.requestHeader.get(GATEWAY_KEY_HEADER) ?? ""),
      }),
    );
  }

  private async *watch(signal: AbortSignal, gatewayKey: string): AsyncGenerator<FakeAuthorizationChange> {
    const watch: FakeWatch = { gatewayKey, queue: [{ change: { case: "reset", value: {} } }], wake: undefined, ended: undefined };
    this.watches.add(watch);
    const onAbort = (): void => {
      watch.ended ??= { code: undefined };
      watch.wake?.();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        const next = watch.queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (watch.ended !== undefined) {
          if (watch.ended.code === Code.Unauthenticated) throw new ConnectError("AI Gateway key invalid.", Code.Unauthenticated);
          if (watch.ended.code !== undefined) throw new ConnectError("watch ended by the fake control plane", watch.ended.code);
          return;
        }
        await new Promise<void>((resolve) => {
          watch.wake = resolve;
        });
        watch.wake = undefined;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.watches.delete(watch);
    }
  }
}

export function createFakeControlPlane(options: FakeControlPlaneOptions): FakeControlPlane {
  return new FakeControlPlane(options);
}
