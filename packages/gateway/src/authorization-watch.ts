// Keeps the gateway's Authorizer.WatchAuthorizationChanges stream open (API 1.1) and applies
// what it carries to the AuthCache, when there is one: the cache is active from the stream's
// first reset until the stream ends, so it never serves an answer whose revocation it could not
// hear about. A broken stream is reopened with jittered backoff (50 ms → 10 s), at once when the
// control plane is found answering again (retrySoon); meanwhile every request asks the control
// plane. A control plane that answers Unimplemented (older than 1.1) is asked again only after a
// long pause (it may be upgraded); until then the gateway runs uncached. Each change applied is
// also told to onChange, for what else the gateway keeps per key or user (its handler pool) —
// the only consumer when the gateway caches no answers (cache off, or an embedded gateway).

import { Code, ConnectError } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import type { Authorizer, WatchAuthorizationChangesResponse } from "@weir/proto";
import type { Logger } from "pino";
import type { AuthCache } from "./auth-cache.js";
import { Backoff } from "./backoff.js";
import type { BackoffOptions } from "./backoff.js";
import { sleep, systemClock } from "./clock.js";
import type { Clock } from "./clock.js";

export interface AuthorizationWatchOptions {
  readonly authorizer: Pick<Client<typeof Authorizer>, "watchAuthorizationChanges">;
  /** Absent when answers are not cached: the watch then only tells onChange. */
  readonly cache?: AuthCache;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly backoff?: BackoffOptions;
  /** Pause before asking again a control plane that answered Unimplemented; default 5 min. */
  readonly unsupportedRetryMs?: number;
  /** The stream delivered its first reset: the control plane answers. */
  readonly onConnected?: () => void;
  /** The stream failed (not when stopped): e.g. to notice an unreachable control plane. */
  readonly onFailure?: (err: unknown) => void;
  /** Connected state changes (metrics). */
  readonly onStateChange?: (connected: boolean) => void;
  /** A pushed change, after the cache applied it. */
  readonly onChange?: (change: AuthorizationChange) => void;
}

/**
 * What a pushed change makes stale. "all": a reset (a new stream, or a control plane that may
 * have missed changes) or a change this build does not know — anything may have changed.
 */
export type AuthorizationChange =
  | { readonly kind: "api_key"; readonly apiKeyId: string }
  | { readonly kind: "user"; readonly userId: string }
  | { readonly kind: "gateway_key" }
  | { readonly kind: "all" };

export const DEFAULT_UNSUPPORTED_RETRY_MS = 5 * 60_000;

/** Whether the control plane serves the watch: unknown until it answered once. */
export type WatchSupport = "unknown" | "supported" | "unsupported";

export class AuthorizationWatch {
  private readonly backoff: Backoff;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly stopController = new AbortController();
  private running: Promise<void> | undefined;
  private isConnected = false;
  private support: WatchSupport = "unknown";
  /** Aborts the pause before the next attempt (retrySoon). */
  private wake: AbortController | undefined;
  /** Aborts the open stream so that it is opened again at once (reconnect). */
  private attempt: AbortController | undefined;

  constructor(private readonly options: AuthorizationWatchOptions) {
    this.backoff = new Backoff(options.backoff);
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger.child({ component: "authorization_watch" });
  }

  /** True while the stream is open and has delivered its reset (a cache, if any, is active). */
  get connected(): boolean {
    return this.isConnected;
  }

  get supported(): WatchSupport {
    return this.support;
  }

  /** Starts watching in the background. Idempotent. */
  start(): void {
    if (this.stopController.signal.aborted) return;
    this.running ??= this.loop();
  }

  /**
   * The control plane answers again after an outage: reopen the stream now, and retry it quickly
   * from there, instead of waiting out a backoff grown to 10 s. Until the stream is back every
   * request costs an IsAuthorized, which is when the control plane can least afford it.
   */
  retrySoon(): void {
    if (this.isConnected || this.support === "unsupported") return;
    this.backoff.reset();
    this.wake?.abort();
  }

  /**
   * Closes the open stream and opens it again at once: its calls now carry another gateway key
   * (a rotation), and the old one may be deleted. Until the new stream's reset the cache is
   * inactive, as after any reconnection.
   */
  reconnect(): void {
    this.backoff.reset();
    this.attempt?.abort(new Error("authorization watch reconnecting"));
    this.wake?.abort();
  }

  /** Closes the stream and stops reconnecting; the cache is left inactive. */
  async stop(): Promise<void> {
    this.stopController.abort(new Error("authorization watch stopped"));
    await this.running;
    this.setConnected(false);
  }

  private async loop(): Promise<void> {
    const stop = this.stopController.signal;
    while (!stop.aborted) {
      let failure: unknown;
      const attempt = new AbortController();
      this.attempt = attempt;
      try {
        // No deadline: the stream is meant to stay open. Aborted only by stop() and reconnect().
        const stream = this.options.authorizer.watchAuthorizationChanges({}, { signal: AbortSignal.any([stop, attempt.signal]), timeoutMs: 0 });
        for await (const message of stream) this.apply(message);
        failure = new ConnectError("the control plane ended the authorization watch", Code.Unavailable);
      } catch (err) {
        failure = err;
      } finally {
        this.attempt = undefined;
      }
      const wasConnected = this.isConnected;
      this.setConnected(false);
      if (stop.aborted) return;
      if (attempt.signal.aborted) continue;
      const code = ConnectError.from(failure).code;
      let delayMs: number;
      if (code === Code.Unimplemented) {
        if (this.support !== "unsupported") {
          const effect = this.options.cache ? "authorizing every request without a cache" : "pooled handlers are dropped only when they expire";
          this.logger.info(`control plane does not serve WatchAuthorizationChanges (older than 1.1): ${effect}`);
        }
        this.support = "unsupported";
        delayMs = this.options.unsupportedRetryMs ?? DEFAULT_UNSUPPORTED_RETRY_MS;
      } else {
        delayMs = this.backoff.next();
        const fields = { err: failure, retry_in_ms: delayMs, attempt: this.backoff.attempts };
        if (wasConnected) this.logger.warn(fields, this.options.cache ? "authorization watch lost: authorizing every request until it is back" : "authorization watch lost: stale handlers are dropped once it is back");
        else this.logger.debug(fields, "authorization watch failed");
        this.options.onFailure?.(failure);
      }
      const wake = new AbortController();
      this.wake = wake;
      try {
        await sleep(this.clock, delayMs, AbortSignal.any([stop, wake.signal]));
      } catch {
        if (stop.aborted) return;
      } finally {
        this.wake = undefined;
      }
    }
  }

  private apply(message: WatchAuthorizationChangesResponse): void {
    const { cache, onChange } = this.options;
    const change = message.change;
    switch (change.case) {
      case "reset":
        cache?.activate();
        onChange?.({ kind: "all" });
        if (!this.isConnected) {
          this.support = "supported";
          this.backoff.reset();
          this.setConnected(true);
          this.logger.info(cache ? "authorization watch connected: caching authorizations" : "authorization watch connected");
          this.options.onConnected?.();
        }
        return;
      case "apiKey":
        cache?.invalidateApiKey(change.value.apiKeyId);
        onChange?.({ kind: "api_key", apiKeyId: change.value.apiKeyId });
        return;
      case "user":
        cache?.invalidateUser(change.value.userId);
        onChange?.({ kind: "user", userId: change.value.userId });
        return;
      case "gatewayKey":
        cache?.clear();
        onChange?.({ kind: "gateway_key" });
        return;
      default:
        // A change this build does not know (a newer minor): forgetting everything is safe.
        cache?.clear();
        onChange?.({ kind: "all" });
    }
  }

  private setConnected(connected: boolean): void {
    if (!connected) this.options.cache?.deactivate();
    if (this.isConnected === connected) return;
    this.isConnected = connected;
    this.options.onStateChange?.(connected);
  }
}
