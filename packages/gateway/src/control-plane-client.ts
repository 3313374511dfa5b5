// The gateway's only link to the control plane (DESIGN §3): Connect clients for Recorder,
// MCPConfigurator and Authorizer over one HTTP/2 session (h2c for http:// URLs), with ONE
// interceptor that adds the gateway key and API version headers to every call.
//
// Start-up: start() proves key and version with one cheap RPC (GetMCPServerConfigs; the
// server's interceptor runs before any handler). Unauthenticated / FailedPrecondition are
// fatal: start() rejects with a one-line FatalStartupError. Anything else (refused,
// Unavailable, 5xx, timeouts) is transient: start() RESOLVES — the gateway serves while it
// retries, like the reference, and reports not-ready (/readyz 503) until a probe succeeds.
// Probes repeat with jittered backoff 50 ms → 10 s. Whenever a later RPC fails for transport
// reasons the client turns not-ready and probing resumes, so readiness recovers on its own.

import { ConnectError, Code, createClient } from "@connectrpc/connect";
import type { Client, Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  API_VERSION_HEADER,
  Authorizer,
  GATEWAY_KEY_HEADER,
  IsAuthorizedFailureSchema,
  MCPConfigurator,
  Recorder,
} from "@weir/proto";
import type { IsAuthorizedResponse } from "@weir/proto";
import type { Logger } from "pino";
import { Backoff } from "./backoff.js";
import type { BackoffOptions } from "./backoff.js";
import { sleep, systemClock } from "./clock.js";
import type { Clock } from "./clock.js";
import { gatewayKeyPrefix } from "./credentials.js";
import { GuardedSessionManager } from "./guarded-session-manager.js";
import {
  ControlPlaneError,
  ControlPlaneUnavailableError,
  FatalStartupError,
  RecordInterceptionError,
  UnauthorizedError,
} from "./errors.js";
import type { FailureClass } from "./record-queue.js";
import type { FollowUpRecord, InterceptionMessage } from "./records.js";

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
}

/** What IsAuthorized established about the caller. */
/** What a request authorizes with: the user's full API key, or a delegated key id. */
export type UserCredential = { readonly key: string } | { readonly keyId: string };

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

/** The Connect code of any error (non-Connect errors count as Unknown). */
export function connectCode(err: unknown): Code {
  return err instanceof ConnectError ? err.code : Code.Unknown;
}

export class ControlPlaneClient {
  readonly recorder: Client<typeof Recorder>;
  readonly authorizer: Client<typeof Authorizer>;
  readonly mcpConfigurator: Client<typeof MCPConfigurator>;
  private readonly sessionManager: GuardedSessionManager;
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private readonly logger: Logger;
  private readonly stop = new AbortController();
  private isReady = false;
  private probing: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: ControlPlaneClientOptions) {
    this.clock = options.clock ?? systemClock;
    this.backoff = new Backoff(options.backoff);
    // SECURITY: the key itself is never logged, only its public prefix.
    this.logger = options.logger.child({
      component: "control_plane_client",
      control_plane_url: options.baseUrl,
      gateway_key_prefix: gatewayKeyPrefix(options.gatewayKey),
      client_api_version: options.apiVersion,
    });
    const identify: Interceptor = (next) => async (req) => {
      req.header.set(GATEWAY_KEY_HEADER, options.gatewayKey);
      req.header.set(API_VERSION_HEADER, options.apiVersion);
      return next(req);
    };
    // Our own session manager, so close() can end the HTTP/2 session: connect-node otherwise
    // keeps an idle session open for 15 minutes and the process never exits.
    this.sessionManager = new GuardedSessionManager(options.baseUrl, this.logger);
    const transport = createConnectTransport({
      httpVersion: "2",
      baseUrl: options.baseUrl,
      sessionManager: this.sessionManager,
      interceptors: [identify],
      defaultTimeoutMs: options.rpcTimeoutMs,
    });
    this.recorder = createClient(Recorder, transport);
    this.authorizer = createClient(Authorizer, transport);
    this.mcpConfigurator = createClient(MCPConfigurator, transport);
  }

  /** True once the control plane answered, and until it stops answering. */
  get ready(): boolean {
    return this.isReady;
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
      return;
    }
    this.logger.warn({ err: outcome.error }, "control plane unreachable at start-up; serving not-ready while retrying");
    this.ensureProbing();
  }

  /**
   * IsAuthorized with the user's key — or, for delegated in-process callers, the key's id only —
   * errors mapped to the gateway's domain errors.
   */
  async authorize(credential: UserCredential, signal?: AbortSignal): Promise<AuthorizedUser> {
    let response: IsAuthorizedResponse;
    try {
      // SECURITY: the key goes only into the request message.
      const request = "key" in credential ? { key: credential.key } : { keyId: credential.keyId };
      response = await this.authorizer.isAuthorized(request, { signal, timeoutMs: this.options.rpcTimeoutMs });
    } catch (err) {
      throw this.authorizeError(err);
    }
    this.noteAnswered();
    return { ownerId: response.ownerId, apiKeyId: response.apiKeyId, username: response.username };
  }

  /** The synchronous RecordInterception; any failure becomes RecordInterceptionError. */
  async recordInterception(message: InterceptionMessage, signal?: AbortSignal): Promise<void> {
    try {
      await this.recorder.recordInterception(message, { signal, timeoutMs: this.options.rpcTimeoutMs });
    } catch (err) {
      this.noteFailure(err);
      throw new RecordInterceptionError({ cause: err });
    }
    this.noteAnswered();
  }

  /** Delivers one follow-up record (used by the record queue). */
  async sendRecord(record: FollowUpRecord, signal: AbortSignal): Promise<void> {
    const options = { signal, timeoutMs: this.options.rpcTimeoutMs };
    try {
      switch (record.kind) {
        case "prompt_usage":
          await this.recorder.recordPromptUsage(record.message, options);
          break;
        case "token_usage":
          await this.recorder.recordTokenUsage(record.message, options);
          break;
        case "tool_usage":
          await this.recorder.recordToolUsage(record.message, options);
          break;
        case "model_thought":
          await this.recorder.recordModelThought(record.message, options);
          break;
        case "interception_ended":
          await this.recorder.recordInterceptionEnded(record.message, options);
          break;
      }
    } catch (err) {
      this.noteFailure(err);
      throw err;
    }
    this.noteAnswered();
  }

  /** Transient failures are retried by the record queue; InvalidArgument, NotFound etc. are not. */
  classifyRecordError(err: unknown): FailureClass {
    return TRANSIENT_CODES.has(connectCode(err)) ? "transient" : "permanent";
  }

  /** Stops probing and closes the HTTP/2 session. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stop.abort(new Error("control plane client closed"));
    this.setReady(false);
    this.sessionManager.abort();
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
        `control plane rejected gateway key ${gatewayKeyPrefix(this.options.gatewayKey)}...: ${err.rawMessage}`,
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
      if (this.closed) return;
      if (outcome.kind === "ok") {
        this.logger.info({ attempts: this.backoff.attempts }, "control plane connected");
        this.backoff.reset();
        this.setReady(true);
        return;
      }
      if (outcome.kind === "fatal") {
        this.logger.error({ err: outcome.error }, outcome.error.message);
        if (!reportedFatal) this.options.onFatalError?.(outcome.error);
        reportedFatal = true;
        continue;
      }
      this.logger.warn({ err: outcome.error, retry_in_ms: delayMs }, "control plane still unreachable");
    }
  }

  private authorizeError(err: unknown): Error {
    const ce = ConnectError.from(err);
    const failure = ce.findDetails(IsAuthorizedFailureSchema)[0];
    if (failure !== undefined) {
      this.noteAnswered();
      return new UnauthorizedError(failure.reason, { cause: ce });
    }
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
      this.logger.warn({ err }, "control plane unreachable");
      this.setReady(false);
    }
    this.ensureProbing();
  }

  private setReady(ready: boolean): void {
    if (this.isReady === ready) return;
    this.isReady = ready;
    this.options.onReadyChange?.(ready);
  }
}

/** Creates a ControlPlaneClient. */
export function createControlPlaneClient(options: ControlPlaneClientOptions): ControlPlaneClient {
  return new ControlPlaneClient(options);
}
