// Upstream retries (opt-in, --upstream-max-retries): an LLM request the provider failed before
// answering is sent again, by the rules of the official OpenAI and Anthropic SDKs, which the
// reference's upstream calls inherit (their default is 2 retries; Weir's is 0, as LiteLLM's,
// Portkey's and Bifrost's: clients' SDKs already retry the gateway's 5xx and 429).
//
// Retried: a failure before the response head (connection refused or reset, "other side closed",
// which is also a keep-alive connection the provider closed as the request was written), and the
// statuses 408, 409, 429 and >= 500 — unless the provider says `x-should-retry: false`
// (`x-should-retry: true` makes any status but a 2xx retryable). Never retried: the upstream timeout, a
// client that left, a shutdown, and anything once the answer's head went to the client (a stream
// failing midway included): retries happen only here, before a response is handed on.
//
// Waits: 0.5 s doubling per retry up to 8 s, shortened by up to a quarter at random; a provider's
// `retry-after-ms` or `retry-after` (seconds or an HTTP date) is taken instead when it lies
// strictly between 0 and 60 s, as the SDKs take it. A client that disconnects ends the wait at
// once; the wait does not count as the provider's silence (UpstreamDeadline.pause).

import { Backoff } from "./backoff.js";
import type { Cancellation } from "./cancellation.js";
import type { Clock } from "./clock.js";
import { retryAfterMs } from "./provider-key-pool.js";
import { replayedResponse } from "./upstream.js";
import type { IncomingHttpHeaders, UpstreamResponse } from "./upstream.js";
import type { UpstreamDeadline } from "./upstream-deadline.js";

/** The SDKs' backoff: 0.5 s × 2^retry, at most 8 s, times 1 - 0.25 × random. */
export const UPSTREAM_RETRY_BACKOFF = Object.freeze({ initialMs: 500, maxMs: 8_000, factor: 2, jitter: 0.25, downwardJitter: true });
/** A provider's retry hint is taken only below this (the SDKs' bound); longer ones fall back to the backoff. */
export const MAX_RETRY_HINT_MS = 60_000;
/**
 * Most retries --upstream-max-retries takes: up to about 75 s of backoff, or 10 min if the
 * provider asks for just under 60 s each time (its hints are followed, as the SDKs follow them).
 */
export const MAX_UPSTREAM_RETRIES = 10;

const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 409, 429]);
/**
 * Failures before the head that a second attempt can mend: the connection refused, reset, closed
 * unanswered or not made in time, a name not resolved for now. Not others (a header undici
 * refuses, a certificate that does not verify): they fail the same way every time.
 */
const RETRYABLE_ERROR_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const raw = headers[name];
  return Array.isArray(raw) ? raw[0] : raw;
}

/** Whether an upstream answer is worth sending the request again (the SDKs' shouldRetry). */
export function isRetryableResponse(status: number, headers: IncomingHttpHeaders): boolean {
  // The SDKs ask shouldRetry only of an answer that is not ok: a success is never sent again.
  if (status >= 200 && status < 300) return false;
  const hint = header(headers, "x-should-retry")?.trim().toLowerCase();
  if (hint === "true") return true;
  if (hint === "false") return false;
  return RETRYABLE_STATUSES.has(status) || status >= 500;
}

/**
 * How long the provider asks to wait: `retry-after-ms`, else `retry-after` in seconds or as an
 * HTTP date; undefined when absent, unreadable, or not strictly between 0 and 60 s.
 */
export function retryHintMs(headers: IncomingHttpHeaders, nowMs: number): number | undefined {
  const ms = header(headers, "retry-after-ms");
  let hint = ms === undefined || !Number.isFinite(Number(ms)) ? undefined : Number(ms);
  // Seconds: the parsing the key pool's cool-downs use.
  hint ??= retryAfterMs(headers);
  if (hint === undefined) {
    const date = header(headers, "retry-after");
    const at = date === undefined ? Number.NaN : Date.parse(date);
    if (Number.isFinite(at)) hint = at - nowMs;
  }
  return hint !== undefined && hint > 0 && hint < MAX_RETRY_HINT_MS ? hint : undefined;
}

/** What the retry loop takes from the gateway: the setting, and time and chance for tests to drive. */
export interface UpstreamRetrySettings {
  /** Retries after the first attempt; 0: none. */
  readonly maxRetries: number;
  readonly clock: Clock;
  /** In [0, 1); default Math.random. */
  readonly random?: () => number;
}

/** One retry about to be waited for: what failed and how long the wait is. */
export interface RetryNote {
  /** 1 for the first retry. */
  readonly attempt: number;
  /** The retried status, or undefined for a failure before the response head. */
  readonly status: number | undefined;
  /** A connection failure's code (ECONNRESET, UND_ERR_SOCKET, ...). */
  readonly errorCode: string | undefined;
  readonly delayMs: number;
}

/** The metric's `reason` of a retry: the status class ("5xx", "4xx") or "connection". */
export function retryReason(note: Pick<RetryNote, "status">): string {
  return note.status === undefined ? "connection" : `${Math.floor(note.status / 100)}xx`;
}

export interface RetryingRequest {
  /** One attempt (with key failover): resolves at the response head. */
  readonly send: () => Promise<UpstreamResponse>;
  /** The request's own cancellation: a client that left ends a wait at once. */
  readonly exchange: Cancellation;
  /** Paused while waiting. */
  readonly deadline: UpstreamDeadline;
  /** Asked before each retry: false stops them (the model's circuit opened meanwhile). */
  readonly mayRetry: () => boolean;
  /**
   * Aborted when the gateway begins to shut down: no further retry, and a wait ends at once with
   * the last answer handed on (or the last failure), rather than holding the shutdown.
   */
  readonly draining: AbortSignal;
  /** Told of each retry before its wait. */
  readonly onRetry: (note: RetryNote) => void;
}

/**
 * Sends a request, and again while it fails retryably and retries are left. Resolves with the
 * last answer (a failed one once retries run out: the client gets it as the provider sent it);
 * rejects with the last attempt's error, or with the exchange's reason if it was aborted while
 * waiting. Without retries this is `send` itself.
 */
export function requestWithRetries(settings: UpstreamRetrySettings, request: RetryingRequest): Promise<UpstreamResponse> {
  if (settings.maxRetries <= 0) return request.send();
  return retrying(settings, request);
}

async function retrying(settings: UpstreamRetrySettings, request: RetryingRequest): Promise<UpstreamResponse> {
  const { exchange, deadline, draining } = request;
  let backoff: Backoff | undefined;
  for (let attempt = 1; ; attempt++) {
    const last = attempt > settings.maxRetries;
    let response: UpstreamResponse;
    try {
      response = await request.send();
    } catch (err) {
      // A timeout, a client that left or a shutdown abort the exchange: never retried. Nor is a
      // failure another attempt cannot mend (an undici headers timeout is --upstream-timeout).
      const code = (err as { code?: unknown } | undefined)?.code;
      const mendable = typeof code === "string" && RETRYABLE_ERROR_CODES.has(code);
      if (last || exchange.aborted || !mendable || draining.aborted || !request.mayRetry()) throw err;
      backoff ??= new Backoff({ ...UPSTREAM_RETRY_BACKOFF, random: settings.random });
      const delayMs = backoff.next();
      request.onRetry({ attempt, status: undefined, errorCode: code, delayMs });
      if (!(await wait(settings.clock, delayMs, exchange, deadline, draining))) throw err;
      continue;
    }
    if (last || !isRetryableResponse(response.statusCode, response.headers) || draining.aborted || !request.mayRetry()) return response;
    backoff ??= new Backoff({ ...UPSTREAM_RETRY_BACKOFF, random: settings.random });
    // The backoff moves on with every retry, hint or not (the SDKs count retries, not waits).
    const backoffMs = backoff.next();
    const delayMs = retryHintMs(response.headers, settings.clock.now()) ?? backoffMs;
    // Read whole (error bodies are small), so the connection serves the next attempt and the
    // answer can still be handed on if a shutdown ends the wait.
    const body = await response.body.bytes().catch(() => undefined);
    if (exchange.aborted) throw exchange.reason;
    request.onRetry({ attempt, status: response.statusCode, errorCode: undefined, delayMs });
    if (!(await wait(settings.clock, delayMs, exchange, deadline, draining))) {
      if (body === undefined) throw new Error(`the provider's ${response.statusCode} answer could not be read, and the gateway is shutting down`);
      return replayedResponse(response, body);
    }
  }
}

/**
 * Waits `ms` with the upstream timeout paused; false if the gateway began draining meanwhile
 * (the wait then ends at once). Rejects with the exchange's reason if it is aborted.
 */
async function wait(clock: Clock, ms: number, exchange: Cancellation, deadline: UpstreamDeadline, draining: AbortSignal): Promise<boolean> {
  if (draining.aborted) return false;
  deadline.pause();
  try {
    return await new Promise<boolean>((resolve, reject) => {
      const signal = exchange.signal;
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const settle = (): void => {
        clock.clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        draining.removeEventListener("abort", onDrain);
      };
      const onAbort = (): void => {
        settle();
        reject(signal.reason);
      };
      const onDrain = (): void => {
        settle();
        resolve(false);
      };
      const timer = clock.setTimeout(() => {
        settle();
        resolve(true);
      }, ms);
      signal.addEventListener("abort", onAbort, { once: true });
      draining.addEventListener("abort", onDrain, { once: true });
    });
  } finally {
    deadline.resume();
  }
}
