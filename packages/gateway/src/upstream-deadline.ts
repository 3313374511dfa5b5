// The deadline of one upstream call: the exchange's own cancellation (the client went away, or
// the gateway gave up on it at shutdown), plus upstreamTimeoutMs, after which the exchange is
// aborted with UpstreamTimeoutError. The exchange's cancellation serves the upstream call
// directly — nothing more to make and listen to per request.
//
// The timeout bounds silences, not the whole exchange: the wait for the answer's head, then each
// wait for the next stream chunk (`touch`). A long Claude Code or Codex turn streams for more
// than ten minutes while healthy; only a provider that stops sending is cut off.

import type { AbortSource, Cancellation } from "./cancellation.js";
import type { Clock } from "./clock.js";
import { UpstreamTimeoutError, isClientDisconnectedError, isShutdownAbortError, isUpstreamTimeoutError } from "./errors.js";
import type { InterceptionErrorType } from "./records.js";

export class UpstreamDeadline {
  private timer: unknown;
  private lastActivityMs: number;

  constructor(
    private readonly exchange: Cancellation,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {
    this.lastActivityMs = clock.now();
    this.timer = clock.setTimeout(this.expire, timeoutMs);
  }

  /**
   * The upstream sent something: the silence starts again. Only a time is noted (no timer is
   * reset per chunk); the timer checks it when it fires.
   */
  touch(): void {
    this.lastActivityMs = this.clock.now();
  }

  /**
   * Stops the clock while the gateway itself waits (a retry's backoff): that wait is no silence of
   * the provider's, and counting it would time a retried request out early. resume() re-arms it
   * with a whole timeout, as for a new request.
   */
  pause(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  resume(): void {
    if (this.timer !== undefined) return;
    this.lastActivityMs = this.clock.now();
    this.timer = this.clock.setTimeout(this.expire, this.timeoutMs);
  }

  /**
   * Waits for a write to a client that is not reading fast enough (the answer is then held back
   * from the provider, whose stream stops): the client's wait, not a silence of the provider's,
   * so the clock is paused meanwhile — a reader that paused longer than the timeout had a healthy
   * stream cut as an upstream timeout. A client whose buffered writes do not drain within a whole
   * timeout is given up on: false, as for a client gone. Resolves with the write's outcome. Only
   * a held-back write comes here: a client that keeps up costs no timer.
   */
  async waitForClient(written: Promise<boolean>): Promise<boolean> {
    this.pause();
    let timer: unknown;
    const givenUp = new Promise<boolean>((resolve) => (timer = this.clock.setTimeout(() => resolve(false), this.timeoutMs)));
    try {
      return await Promise.race([written, givenUp]);
    } finally {
      this.clock.clearTimeout(timer);
      this.resume();
    }
  }

  private readonly expire = (): void => {
    const quietMs = this.clock.now() - this.lastActivityMs;
    if (quietMs >= this.timeoutMs) this.exchange.abort(new UpstreamTimeoutError(this.timeoutMs));
    else this.timer = this.clock.setTimeout(this.expire, this.timeoutMs - quietMs);
  };

  get cancellation(): AbortSource {
    return this.exchange;
  }

  /** Releases the timer; call when the upstream call is over. */
  dispose(): void {
    this.clock.clearTimeout(this.timer);
  }

  /** Why an upstream call failed with `err`, as an interception error. */
  failure(err: unknown): UpstreamFailure {
    const reason: unknown = this.exchange.aborted ? this.exchange.reason : undefined;
    if (isClientDisconnectedError(reason)) return upstreamFailure("client_disconnected", reason.message);
    if (isShutdownAbortError(reason)) return upstreamFailure("internal", reason.message);
    if (isUpstreamTimeoutError(reason)) return upstreamFailure("timeout", reason.message);
    const code = (err as { code?: unknown } | undefined)?.code;
    if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") {
      return upstreamFailure("timeout", `upstream request timed out: ${errorMessage(err)}`, "upstream request timed out");
    }
    // The cause (socket errors, addresses) is recorded and logged; the client gets a generic message.
    return upstreamFailure("upstream_disconnected", `upstream connection failed: ${errorMessage(err)}`, "upstream connection failed");
  }
}

/** Why an interception failed: `message` is recorded and logged, `clientMessage` is what the client sees. */
export interface UpstreamFailure {
  readonly type: InterceptionErrorType;
  readonly message: string;
  readonly clientMessage: string;
}

/** A failure whose client-facing message is `clientMessage` (default: `message`). */
export function upstreamFailure(type: InterceptionErrorType, message: string, clientMessage: string = message): UpstreamFailure {
  return { type, message, clientMessage };
}

/** A short message for any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
