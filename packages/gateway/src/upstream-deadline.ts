// The abort signal of one upstream call: fires when the client goes away, when the gateway
// gives up on it at shutdown, or when upstreamTimeoutMs passes.

import type { Clock } from "./clock.js";
import { UpstreamTimeoutError, isClientDisconnectedError, isShutdownAbortError, isUpstreamTimeoutError } from "./errors.js";
import type { InterceptionErrorType } from "./records.js";

export class UpstreamDeadline {
  private readonly controller = new AbortController();
  private readonly timer: unknown;
  private readonly onParentAbort: () => void;

  constructor(
    private readonly parent: AbortSignal,
    private readonly clock: Clock,
    timeoutMs: number,
  ) {
    this.onParentAbort = (): void => this.controller.abort(parent.reason);
    if (parent.aborted) this.controller.abort(parent.reason);
    else parent.addEventListener("abort", this.onParentAbort, { once: true });
    this.timer = clock.setTimeout(() => this.controller.abort(new UpstreamTimeoutError(timeoutMs)), timeoutMs);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Releases the timer and the listener; call when the upstream call is over. */
  dispose(): void {
    this.clock.clearTimeout(this.timer);
    this.parent.removeEventListener("abort", this.onParentAbort);
  }

  /** Why an upstream call failed with `err`, as an interception error. */
  failure(err: unknown): UpstreamFailure {
    const reason: unknown = this.controller.signal.aborted ? this.controller.signal.reason : undefined;
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
