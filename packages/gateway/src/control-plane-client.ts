// The gateway's only link to the control plane (DESIGN §3): Connect clients for Recorder,
// MCPConfigurator and Authorizer over one HTTP/2 session (h2c for http:// URLs), with ONE
// interceptor that adds the gateway key and API version headers to every call.
//
// API 1.1 (when this client speaks it): once the control plane first answers, the client asks
// whether it serves Recorder.RecordBatch (an empty batch) and opens the authorization watch
// (authorization-watch.ts) that keeps the IsAuthorized cache (auth-cache.ts) honest and tells
// onAuthorizationChange (the gateway's handler pool) — also with the cache off, when the watch
// only does the latter. Against a
// control plane answering Unimplemented (API 1.0) it falls back to the 1.0 behaviour: one RPC
// per record, the synchronous RecordInterception, and IsAuthorized on every request. A client
// configured to speak 1.0 never uses the 1.1 RPCs.
//
// Start-up: start() proves key and version with one cheap RPC (GetMCPServerConfigs; the
// server's interceptor runs before any handler). Unauthenticated / FailedPrecondition are
// fatal: start() rejects with a one-line FatalStartupError. Anything else (refused,
// Unavailable, 5xx, timeouts) is transient: start() RESOLVES — the gateway serves while it
// retries, like the reference, and reports not-ready (/readyz 503) until a probe succeeds.
// Probes repeat with jittered backoff 50 ms → 10 s. Whenever a later RPC fails for transport
// reasons the client turns not-ready and probing resumes, so readiness recovers on its own.

import { ConnectError, Code, createClient } from "@connectrpc/connect";
import type { Client, Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { WireType } from "@bufbuild/protobuf/wire";
import {
  API_VERSION_HEADER,
  Authorizer,
  GATEWAY_KEY_HEADER,
  GATEWAY_KEY_LENGTH,
  GATEWAY_KEY_TYPE_PREFIX,
  CONTROL_PLANE_BUSY_MESSAGE,
  IsAuthorizedFailureSchema,
  MCPConfigurator,
  RecordBatchRequestSchema,
  Recorder,
  compareApiVersions,
  gatewayKeyPrefix,
  hasGatewayKeyShape,
  parseApiVersion,
} from "@weir/proto";
import type { IsAuthorizedResponse, RecordBatchRequest } from "@weir/proto";
import type { Logger } from "pino";
import { AuthCache, userOf } from "./auth-cache.js";
import type { AuthCacheOptions, AuthorizationAnswer } from "./auth-cache.js";
import { AuthorizationWatch } from "./authorization-watch.js";
import type { AuthorizationChange } from "./authorization-watch.js";
import { Backoff } from "./backoff.js";
import type { BackoffOptions } from "./backoff.js";
import { sleep, systemClock } from "./clock.js";
import { unlimitedAbortController } from "./cancellation.js";
import type { Clock } from "./clock.js";
import { GuardedSessionManager } from "./guarded-session-manager.js";
import {
  ControlPlaneError,
  ControlPlaneUnavailableError,
  FatalStartupError,
  GatewayKeyNotReplacedError,
  RecordInterceptionError,
  UnauthorizedError,
} from "./errors.js";
import type { GatewayMetrics } from "./metrics.js";
import { OutageLog } from "./outage-log.js";
import type { BatchLimits, FailureClass } from "./record-queue.js";
import { decodeRecord } from "./records.js";
import type { GatewayRecord } from "./records.js";
import { connectionHint, errorCodes, tlsMisconfiguration } from "./tls-diagnosis.js";

export interface ControlPlaneClientOptions {
  /** e.g. "http://127.0.0.1:7080" (h2c) or an https URL. */
  readonly baseUrl: string;
  /** SECURITY: secret; only its 11-character prefix is ever logged. */
  readonly gatewayKey: string;
  /** "MAJOR.MINOR" sent with every call. */
  readonly apiVersion: string;
  /** Deadline of each RPC. */
  readonly rpcTimeoutMs: number;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly backoff?: BackoffOptions;
  /** Called whenever readiness flips. */
  readonly onReadyChange?: (ready: boolean) => void;
  /** Called when a background probe gets a fatal answer after start() already resolved. */
  readonly onFatalError?: (err: FatalStartupError) => void;
  /**
   * The IsAuthorized cache (API 1.1; used only while the control plane pushes changes).
   * false: authorize every request. Default: enabled with DEFAULT_AUTH_CACHE_OPTIONS.
   */
  readonly authCache?: AuthCacheOptions | false;
  /**
   * Calls go through this transport instead of HTTP/2 to baseUrl — e.g. the control plane's
   * in-process transport for an embedded gateway; no key or version header is added then.
   */
  readonly transport?: Transport;
  /** Cache events and watch state are counted here when given. */
  readonly metrics?: Pick<GatewayMetrics, "authCacheEventsTotal" | "authWatchConnected">;
  /**
   * Each authorization change the watch pushes. Given, the watch is opened (API 1.1) even with
   * the cache off; answers are then still never cached.
   */
  readonly onAuthorizationChange?: (change: AuthorizationChange) => void;
}

/** What a request authorizes with: the user's full API key, or a delegated key id. */
export type UserCredential = { readonly key: string } | { readonly keyId: string };

/** What IsAuthorized established about the caller. */
export interface AuthorizedUser {
  readonly ownerId: string;
  readonly apiKeyId: string;
  readonly username: string;
}

type ProbeOutcome = { readonly kind: "ok" } | { readonly kind: "fatal"; readonly error: FatalStartupError } | { readonly kind: "transient"; readonly error: unknown };

// Codes meaning "the control plane did not (reliably) process this call; try again".
const TRANSIENT_CODES: ReadonlySet<Code> = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.Internal,
  Code.Unknown,
  Code.Aborted,
  Code.ResourceExhausted,
  Code.Canceled,
]);

// Codes meaning the control plane cannot be reached at all.
const UNREACHABLE_CODES: ReadonlySet<Code> = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.Aborted, Code.Canceled]);

/** Node's codes for an HTTP/2 connection or stream that failed under a call. */
const TRANSPORT_ERROR_CODES: ReadonlySet<string> = new Set(["ERR_HTTP2_SESSION_ERROR", "ERR_HTTP2_STREAM_ERROR", "ERR_HTTP2_GOAWAY_SESSION", "EPIPE"]);

/**
 * Whether a call failed in transport, before the control plane answered it: connect-node reports
 * an HTTP/2 session closed with an error ("Session closed with error code 2", an overloaded or
 * crashing control plane) as Internal, like a handler's own internal error, and a stream reset
 * by its code (INADEQUATE_SECURITY as PermissionDenied, like a refusal of the user).
 */
export function failedInTransport(err: ConnectError): boolean {
  return /^http\/2 stream closed with error code /.test(err.rawMessage) || errorCodes(err).some((code) => TRANSPORT_ERROR_CODES.has(code));
}

/** The Connect code of any error (non-Connect errors count as Unknown). */
export function connectCode(err: unknown): Code {
  return err instanceof ConnectError ? err.code : Code.Unknown;
}

/** RecordBatchRequest.records */
const RECORDS_FIELD = RecordBatchRequestSchema.field.records.number;

/** HTTP/2 keep-alive of the control-plane session: a PING after 10 s without data, 5 s to answer. */
const WATCH_PING = Object.freeze({ pingIntervalMs: 10_000, pingTimeoutMs: 5_000 });

/** Whether a client speaking `apiVersion` may use the 1.1 RPCs. */
export function speaksApi11(apiVersion: string): boolean {
  try {
    return compareApiVersions(parseApiVersion(apiVersion), { major: 1, minor: 1 }) >= 0;
  } catch {
    return false;
  }
}

/** Whether the control plane serves a 1.1 RPC: unknown until it answered one. */
export type RpcSupport = "unknown" | "supported" | "unsupported";

/** RecordBatch answered Unimplemented: the batch is sent again, one record per call. */
class RecordBatchUnsupportedError extends Error {
  override readonly name = "RecordBatchUnsupportedError";
  constructor(options?: { cause?: unknown }) {
    super("the control plane does not serve RecordBatch", options);
  }
}

/**
 * A RecordBatchRequest of records already in wire form. Each record's envelope is exactly one
 * encoded element of the repeated field `records` (number 1), so it travels as such an element
 * in the message's unknown fields, which toBinary writes verbatim: the control plane reads an
 * ordinary RecordBatchRequest, and nothing is encoded twice.
 */
export function batchRequest(records: readonly GatewayRecord[]): RecordBatchRequest {
  const request = create(RecordBatchRequestSchema);
  request.$unknown = records.map((r) => ({ no: RECORDS_FIELD, wireType: WireType.LengthDelimited, data: r.envelope }));
  return request;
}

export class ControlPlaneClient {
  readonly recorder: Client<typeof Recorder>;
  readonly authorizer: Client<typeof Authorizer>;
  readonly mcpConfigurator: Client<typeof MCPConfigurator>;
  private readonly sessionManager: GuardedSessionManager | undefined;
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  /** A stack per new error of an outage, not per probe. */
  private readonly outageLog = new OutageLog();
  private logger: Logger;
  /** SECURITY: secret. The key every call carries; replaceGatewayKey changes it. */
  private gatewayKey: string;
  /** Aborts every call at close(); each call in flight listens to it (so no listener limit). */
  private readonly stop = unlimitedAbortController();
  private isReady = false;
  private probing: Promise<void> | undefined;
  private checking = false;
  private closed = false;
  private readonly speaks11: boolean;
  private batchSupport: RpcSupport;
  private contact: Promise<void> | undefined;
  /** The IsAuthorized cache (API 1.1 with caching on); the gateway sweeps it when idle. */
  readonly authCache: AuthCache | undefined;
  private readonly watch: AuthorizationWatch | undefined;

  constructor(private readonly options: ControlPlaneClientOptions) {
    this.clock = options.clock ?? systemClock;
    this.backoff = new Backoff(options.backoff);
    this.gatewayKey = options.gatewayKey;
    this.logger = this.keyLogger();
    let transport = options.transport;
    if (transport === undefined) {
      const identify: Interceptor = (next) => async (req) => {
        // A call may name its key: replaceGatewayKey's check of the new one.
        if (!req.header.has(GATEWAY_KEY_HEADER)) req.header.set(GATEWAY_KEY_HEADER, this.gatewayKey);
        req.header.set(API_VERSION_HEADER, options.apiVersion);
        return next(req);
      };
      // Our own session manager, so close() can end the HTTP/2 session: connect-node otherwise
      // keeps an idle session open for 15 minutes and the process never exits. PINGs while a
      // stream is open notice a silently dead connection under the authorization watch.
      // Its logger names no gateway key: the session outlives a rotation (replaceGatewayKey).
      const sessionLogger = options.logger.child({ component: "control_plane_client", control_plane_url: options.baseUrl });
      this.sessionManager = new GuardedSessionManager(options.baseUrl, sessionLogger, WATCH_PING);
      transport = createConnectTransport({
        httpVersion: "2",
        baseUrl: options.baseUrl,
        sessionManager: this.sessionManager,
        interceptors: [identify],
        defaultTimeoutMs: options.rpcTimeoutMs,
      });
    }
    this.recorder = createClient(Recorder, transport);
    this.authorizer = createClient(Authorizer, transport);
    this.mcpConfigurator = createClient(MCPConfigurator, transport);

    this.speaks11 = speaksApi11(options.apiVersion);
    this.batchSupport = this.speaks11 ? "unknown" : "unsupported";
    const metrics = options.metrics;
    if (this.speaks11 && options.authCache !== false) {
      this.authCache = new AuthCache({
        ...options.authCache,
        clock: this.clock,
        onEvent: metrics ? (event) => metrics.authCacheEventsTotal.inc({ event }) : undefined,
      });
    }
    // Watched whenever someone listens: the cache, or the handler pool (which must not keep a
    // revoked key's handler for its 15 minutes just because answers are not cached).
    if (this.speaks11 && (this.authCache !== undefined || options.onAuthorizationChange !== undefined)) {
      this.watch = new AuthorizationWatch({
        authorizer: this.authorizer,
        cache: this.authCache,
        logger: options.logger,
        clock: this.clock,
        backoff: options.backoff,
        onConnected: () => this.noteAnswered(),
        // A refusal of the gateway itself is a failure. An Unavailable watch may just mean the
        // control plane cannot hear changes right now (its LISTEN connection is down), or that
        // it is gone: one probe tells, so an idle replica turns not-ready without waiting for a
        // client's request to fail first.
        onFailure: (err) => {
          const code = connectCode(err);
          if (code === Code.Unauthenticated || code === Code.FailedPrecondition) this.noteFailure(err);
          else if (UNREACHABLE_CODES.has(code)) void this.checkReachable();
        },
        onStateChange: metrics ? (connected) => metrics.authWatchConnected.set(connected ? 1 : 0) : undefined,
        onChange: options.onAuthorizationChange,
      });
    }
  }

  /** This client's logger, naming the gateway key in use. SECURITY: by its public prefix only. */
  private keyLogger(): Logger {
    return this.options.logger.child({
      component: "control_plane_client",
      control_plane_url: this.options.baseUrl,
      gateway_key_prefix: gatewayKeyPrefix(this.gatewayKey),
      client_api_version: this.options.apiVersion,
    });
  }

  /**
   * Carries `key` on every call from now on, once the control plane has accepted it (one call
   * with it): how replicas move to a new gateway key without a restart. The authorization watch
   * is reopened with it, so nothing stays open on the old key, which can then be deleted. Calls
   * under way finish with the key they were sent with. Rejects, having changed nothing, with
   * GatewayKeyNotReplacedError when the control plane refuses the key or cannot be asked.
   * Answers whether the key changed (the same key again changes nothing and asks nothing).
   */
  async replaceGatewayKey(key: string): Promise<boolean> {
    if (this.options.transport !== undefined) throw new GatewayKeyNotReplacedError("this gateway calls its control plane in-process: it has no gateway key");
    if (this.closed) throw new GatewayKeyNotReplacedError("the control plane client is closed");
    key = key.trim();
    if (key === "") throw new GatewayKeyNotReplacedError("the new gateway key is empty");
    // SECURITY: checked before it goes into a header, whose errors would quote it whole.
    if (!hasGatewayKeyShape(key)) throw new GatewayKeyNotReplacedError(`the new gateway key (${key.length} characters) is not a gateway key: those are ${GATEWAY_KEY_LENGTH} characters, "${GATEWAY_KEY_TYPE_PREFIX}" then letters and digits`);
    if (key === this.gatewayKey) return false;
    try {
      await this.mcpConfigurator.getMCPServerConfigs({}, { headers: { [GATEWAY_KEY_HEADER]: key }, signal: this.stop.signal, timeoutMs: this.options.rpcTimeoutMs });
    } catch (err) {
      const reason = connectCode(err) === Code.Unauthenticated ? "control plane rejected" : "could not check with the control plane";
      throw new GatewayKeyNotReplacedError(`${reason} gateway key ${gatewayKeyPrefix(key)}...: ${ConnectError.from(err).rawMessage}`, { cause: err });
    }
    if (this.closed) throw new GatewayKeyNotReplacedError("the control plane client closed while the new key was checked");
    // A newer replacement may have finished while this one was checked: the last to finish wins, as each was accepted.
    this.gatewayKey = key;
    this.logger = this.keyLogger();
    this.watch?.reconnect();
    this.noteAnswered();
    return true;
  }

  /** The public prefix of the gateway key in use, for logs. */
  get keyPrefix(): string {
    return gatewayKeyPrefix(this.gatewayKey);
  }

  /** True once the control plane answered, and until it stops answering. */
  get ready(): boolean {
    return this.isReady;
  }

  /**
   * Whether records (the interception start included) go through RecordBatch. False for a
   * client speaking 1.0 and once the control plane answered RecordBatch with Unimplemented:
   * then the interception start is the synchronous RecordInterception.
   */
  get recordsInBatches(): boolean {
    return this.batchSupport !== "unsupported";
  }

  /** How the record queue should group records for this control plane. */
  recordLimits(batch: BatchLimits, perRecordConcurrency: number): BatchLimits {
    if (this.recordsInBatches) return batch;
    return { maxRecords: 1, maxInFlight: perRecordConcurrency, lingerMs: 0, maxBytes: Number.POSITIVE_INFINITY };
  }

  /**
   * Verifies key and version once. Rejects with FatalStartupError on a fatal answer; resolves
   * otherwise (on a transient failure it keeps probing in the background).
   */
  async start(): Promise<void> {
    const outcome = await this.probe();
    if (outcome.kind === "fatal") throw outcome.error;
    if (outcome.kind === "ok") {
      this.setReady(true);
      this.logger.info("control plane connected");
      await this.firstContact();
      return;
    }
    // A TLS setting that cannot work never fixes itself: say which, and stop, as for a bad key.
    const tls = tlsMisconfiguration(outcome.error, this.options.baseUrl);
    if (tls !== undefined) throw new FatalStartupError(tls, "tls", { cause: outcome.error });
    this.logger.warn({ err: this.outageLog.detail(outcome.error), hint: connectionHint(outcome.error, this.options.baseUrl) }, "control plane unreachable at start-up; serving not-ready while retrying");
    this.ensureProbing();
  }

  /**
   * IsAuthorized with the user's key — or, for delegated in-process callers, the key's id only —
   * errors mapped to the gateway's domain errors.
   */
  authorize(credential: UserCredential, signal?: () => AbortSignal): AuthorizedUser | Promise<AuthorizedUser> {
    if (this.authCache === undefined) return this.fetchAuthorization(credential, signal?.()).then(userOf);
    // SECURITY: the cache keeps only a digest of this.
    const material = "key" in credential ? `key:${credential.key}` : `key_id:${credential.keyId}`;
    // A call shared by several requests is not tied to any one request's signal.
    return this.authCache.authorize(material, (s) => this.fetchAuthorization(credential, s ?? this.stop.signal), signal);
  }

  /** One IsAuthorized call. */
  private async fetchAuthorization(credential: UserCredential, signal?: AbortSignal): Promise<AuthorizationAnswer> {
    let response: IsAuthorizedResponse;
    try {
      // SECURITY: the key goes only into the request message.
      const request = "key" in credential ? { key: credential.key } : { keyId: credential.keyId };
      response = await this.authorizer.isAuthorized(request, { signal, timeoutMs: this.options.rpcTimeoutMs });
    } catch (err) {
      throw this.authorizeError(err);
    }
    this.noteAnswered();
    return {
      user: { ownerId: response.ownerId, apiKeyId: response.apiKeyId, username: response.username },
      keyExpiresAtMs: response.keyExpiresAt === undefined ? undefined : timestampMs(response.keyExpiresAt),
    };
  }

  /** The synchronous RecordInterception of a start record; any failure becomes RecordInterceptionError. */
  async recordInterception(start: GatewayRecord, signal?: AbortSignal): Promise<void> {
    try {
      const { record } = decodeRecord(start);
      if (record.case !== "interception") throw new Error(`record ${start.id} is not an interception start`);
      await this.recorder.recordInterception(record.value, { signal, timeoutMs: this.options.rpcTimeoutMs });
    } catch (err) {
      this.noteFailure(err);
      throw new RecordInterceptionError({ cause: err });
    }
    this.noteAnswered();
  }

  /**
   * Delivers a batch of records for the record queue, in order. With RecordBatch: one call;
   * resolves with the records the control plane refused for good (id -> reason). Against a
   * 1.0 control plane: one RPC per record, and only batches of one record (so a retry never
   * repeats a record that was stored: the 1.0 RPCs are not idempotent).
   */
  async sendRecords(records: readonly GatewayRecord[], signal: AbortSignal): Promise<ReadonlyMap<string, string>> {
    const options = { signal, timeoutMs: this.options.rpcTimeoutMs };
    if (this.recordsInBatches) {
      let rejected: { id: string; reason: string }[];
      try {
        ({ rejected } = await this.recorder.recordBatch(batchRequest(records), options));
      } catch (err) {
        if (connectCode(err) === Code.Unimplemented) {
          this.batchUnsupported();
          throw new RecordBatchUnsupportedError({ cause: err });
        }
        this.noteFailure(err);
        throw err;
      }
      this.batchSupport = "supported";
      this.noteAnswered();
      return new Map(rejected.map((r) => [r.id, r.reason]));
    }
    const [record, ...more] = records;
    // Formed before the switch to per-record delivery: sent again, one record per call.
    if (more.length > 0) throw new RecordBatchUnsupportedError();
    if (record === undefined) return new Map();
    try {
      await this.sendOne(record, options);
    } catch (err) {
      // A start queued before the fallback and stored by an earlier attempt whose answer was lost.
      if (!(record.kind === "interception" && connectCode(err) === Code.AlreadyExists)) {
        this.noteFailure(err);
        if (this.classifyRecordError(err, 1) === "transient") throw err;
        return new Map([[record.id, ConnectError.from(err).rawMessage]]);
      }
    }
    this.noteAnswered();
    return new Map();
  }

  private async sendOne(r: GatewayRecord, options: { signal: AbortSignal; timeoutMs: number }): Promise<void> {
    const { record } = decodeRecord(r);
    switch (record.case) {
      case "interception":
        await this.recorder.recordInterception(record.value, options);
        return;
      case "promptUsage":
        await this.recorder.recordPromptUsage(record.value, options);
        return;
      case "tokenUsage":
        await this.recorder.recordTokenUsage(record.value, options);
        return;
      case "toolUsage":
        await this.recorder.recordToolUsage(record.value, options);
        return;
      case "modelThought":
        await this.recorder.recordModelThought(record.value, options);
        return;
      case "interceptionEnded":
        await this.recorder.recordInterceptionEnded(record.value, options);
        return;
      case undefined:
        throw new Error(`record ${r.id} is empty`);
    }
  }

  /**
   * Transient failures are retried by the record queue; InvalidArgument, NotFound etc. are
   * not. A message too large for the control plane is retried only as part of a bigger batch
   * (the queue's byte limit keeps that rare); alone it can never succeed.
   */
  classifyRecordError(err: unknown, batchSize: number): FailureClass {
    if (err instanceof RecordBatchUnsupportedError) return "transient";
    const code = connectCode(err);
    // A busy control plane (no free database connection) will take the record later.
    const busy = err instanceof ConnectError && err.rawMessage === CONTROL_PLANE_BUSY_MESSAGE;
    if (code === Code.ResourceExhausted && batchSize <= 1 && !busy) return "permanent";
    return TRANSIENT_CODES.has(code) ? "transient" : "permanent";
  }

  /**
   * Detects what a 1.1 control plane serves and opens the authorization watch; once, the first
   * time the control plane answers (whichever call that was).
   */
  private firstContact(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.contact ??= this.detectCapabilities();
    return this.contact;
  }

  private async detectCapabilities(): Promise<void> {
    this.watch?.start();
    if (this.batchSupport !== "unknown") return;
    try {
      await this.recorder.recordBatch({ records: [] }, { signal: this.stop.signal, timeoutMs: this.options.rpcTimeoutMs });
      this.batchSupport = "supported";
    } catch (err) {
      if (connectCode(err) === Code.Unimplemented) this.batchUnsupported();
      // Anything else: still unknown; the first real batch will tell.
    }
  }

  private batchUnsupported(): void {
    if (this.batchSupport === "unsupported") return;
    this.batchSupport = "unsupported";
    this.logger.warn("control plane does not serve RecordBatch (older than 1.1): one RPC per record, interception start recorded synchronously");
  }

  /** Stops probing and watching and closes the HTTP/2 session. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.watch?.stop();
    this.stop.abort(new Error("control plane client closed"));
    this.setReady(false);
    this.sessionManager?.abort();
  }

  /** Waits for a background probe loop to finish (tests, shutdown). */
  async settled(): Promise<void> {
    await this.probing;
  }

  private async probe(): Promise<ProbeOutcome> {
    try {
      await this.mcpConfigurator.getMCPServerConfigs({}, { signal: this.stop.signal, timeoutMs: this.options.rpcTimeoutMs });
      return { kind: "ok" };
    } catch (err) {
      const fatal = this.fatalError(err);
      return fatal === undefined ? { kind: "transient", error: err } : { kind: "fatal", error: fatal };
    }
  }

  private fatalError(err: unknown): FatalStartupError | undefined {
    if (!(err instanceof ConnectError)) return undefined;
    if (err.code === Code.Unauthenticated) {
      return new FatalStartupError(
        `control plane rejected gateway key ${gatewayKeyPrefix(this.gatewayKey)}...: ${err.rawMessage}`,
        "gateway_key",
        { cause: err },
      );
    }
    if (err.code === Code.FailedPrecondition) {
      return new FatalStartupError(
        `control plane rejected API version ${this.options.apiVersion}: ${err.rawMessage}`,
        "api_version",
        { cause: err },
      );
    }
    return undefined;
  }

  /** One probe while ready: a control plane that does not answer turns the gateway not-ready. */
  private async checkReachable(): Promise<void> {
    if (this.closed || !this.isReady || this.checking) return;
    this.checking = true;
    try {
      const outcome = await this.probe();
      if (outcome.kind === "transient") this.noteFailure(outcome.error);
      else if (outcome.kind === "fatal") this.noteFailure(outcome.error.cause);
    } finally {
      this.checking = false;
    }
  }

  private ensureProbing(): void {
    if (this.closed || this.probing !== undefined) return;
    this.probing = this.probeLoop().finally(() => {
      this.probing = undefined;
    });
  }

  private async probeLoop(): Promise<void> {
    let reportedFatal = false;
    while (!this.closed && !this.isReady) {
      const delayMs = this.backoff.next();
      try {
        await sleep(this.clock, delayMs, this.stop.signal);
      } catch {
        return;
      }
      if (this.closed || this.isReady) return;
      const outcome = await this.probe();
      // Ready meanwhile (replaceGatewayKey's check answered): this probe may have carried a key
      // since replaced, and deleted, whose refusal must not end the gateway.
      if (this.closed || this.isReady) return;
      if (outcome.kind === "ok") {
        this.logger.info({ attempts: this.backoff.attempts }, "control plane connected");
        this.backoff.reset();
        this.setReady(true);
        await this.firstContact();
        return;
      }
      if (outcome.kind === "fatal") {
        this.logger.error({ err: outcome.error }, outcome.error.message);
        if (!reportedFatal) this.options.onFatalError?.(outcome.error);
        reportedFatal = true;
        continue;
      }
      this.logger.warn({ err: this.outageLog.detail(outcome.error), retry_in_ms: delayMs, hint: connectionHint(outcome.error, this.options.baseUrl) }, "control plane still unreachable");
    }
  }

  private authorizeError(err: unknown): Error {
    const ce = ConnectError.from(err);
    const failure = ce.findDetails(IsAuthorizedFailureSchema)[0];
    if (failure !== undefined) {
      this.noteAnswered();
      return new UnauthorizedError(failure.reason, { cause: ce });
    }
    // Unanswered (the connection failed under it): 503, which clients retry — never a refusal
    // of the user, nor 500. The connection's own loss, if it is one, is noticed by the probes.
    if (failedInTransport(ce) && ce.code !== Code.Canceled && ce.code !== Code.Unavailable) return new ControlPlaneUnavailableError({ cause: ce });
    switch (ce.code) {
      case Code.Unavailable:
      case Code.DeadlineExceeded:
      case Code.Aborted:
      case Code.Canceled:
        this.noteFailure(ce);
        return new ControlPlaneUnavailableError({ cause: ce });
      case Code.Unauthenticated:
      case Code.FailedPrecondition:
        // No IsAuthorizedFailure detail: the control plane refused the GATEWAY (key revoked,
        // version no longer served), not the user. Nothing will work until that is fixed.
        this.logger.error({ err: ce }, "control plane rejected the gateway");
        this.noteFailure(ce);
        return new ControlPlaneUnavailableError({ cause: ce });
      case Code.PermissionDenied:
      case Code.InvalidArgument:
      case Code.NotFound:
        this.noteAnswered();
        return new UnauthorizedError(Code[ce.code], { cause: ce });
      case Code.ResourceExhausted:
        // Overloaded, not gone: 503 for this request, but the replica stays ready (every replica
        // turning not-ready at once would take them all out of their load balancer).
        return new ControlPlaneUnavailableError({ cause: ce });
      default:
        return new ControlPlaneError("authorize request", { cause: ce });
    }
  }

  private noteAnswered(): void {
    if (!this.closed && !this.isReady) {
      this.backoff.reset();
      this.setReady(true);
    }
  }

  private noteFailure(err: unknown): void {
    const code = connectCode(err);
    const gatewayRejected = code === Code.Unauthenticated || code === Code.FailedPrecondition;
    if (!UNREACHABLE_CODES.has(code) && !gatewayRejected) return;
    if (code === Code.Canceled && this.closed) return;
    // A canceled call (the user went away) says nothing about the control plane.
    if (code === Code.Canceled) return;
    if (this.isReady) {
      this.outageLog.end();
      this.logger.warn({ err: this.outageLog.detail(err) }, "control plane unreachable");
      this.setReady(false);
    }
    this.ensureProbing();
  }

  private setReady(ready: boolean): void {
    if (this.isReady === ready) return;
    this.isReady = ready;
    if (ready) {
      void this.firstContact();
      this.watch?.retrySoon();
      // Answering again, its watch never closed: pushes reach us again, and the cache starts
      // empty (a stream that did close activates it with its reset instead).
      if (this.watch?.connected === true) this.authCache?.activate();
    } else {
      // A control plane that stopped answering (frozen, partitioned) cannot push a revocation,
      // and the watch's stream may look open until its session's PING fails (up to 15 s): the
      // cache forgets everything and stops at once. Not a reconnection of the watch: a merely
      // slow control plane would get a new stream, and every handler rebuilt, per late call.
      this.authCache?.deactivate();
    }
    this.options.onReadyChange?.(ready);
  }
}

/** Creates a ControlPlaneClient. */
export function createControlPlaneClient(options: ControlPlaneClientOptions): ControlPlaneClient {
  return new ControlPlaneClient(options);
}
