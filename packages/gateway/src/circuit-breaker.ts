// Circuit breakers per provider × route × model (reference §10, opt-in with --circuit-breaker).
// After `failureThreshold` failures in a row, requests for that model on that route are answered
// 503 at once, without calling the provider, for `timeoutMs` (open). Then up to `maxRequests`
// trial requests go through (half-open): that many successes close the circuit, one failure
// opens it again. In the closed state the run of failures starts over every `intervalMs` (0:
// never), so that rare failures hours apart never add up to a trip; a request that started in an
// earlier interval still counts when it ends (a provider that hangs fails each request only after
// --upstream-timeout, long after the interval it started in). Outcomes of requests admitted
// before the last change of state are ignored.
//
// A failure is the provider answering 503, 504 or 529 (Anthropic's "overloaded"), or not answering
// at all: the connection failed, or no response head came within --upstream-timeout. A 429 is not
// one: rate limits belong to a key, not to an outage (the reference dropped it, coder#24701). The
// outcome is taken when the response head arrives, not when a stream ends, so a stream of minutes
// does not hold a half-open trial, and a provider answering 200 counts as up at once. A request
// whose client left (or that shutdown cut) before the answer counts neither way.
//
// Breakers are per replica, like --max-concurrency and --rate-limit. Only breakers with something
// to remember are kept: a closed one with no failures is dropped, so the map holds the models
// that are failing now, bounded by MAX_TRACKED (a client can name any model). When it is full, a
// sweep (at most once a second) also forgets breakers nobody used for FORGET_AFTER_MS, whatever
// their state: a model nobody asks for any more must not hold a place, or keep its gauge at open.

import type { ProviderName } from "./routes.js";

export type BreakerState = "closed" | "open" | "half_open";

export interface CircuitBreakerSettings {
  /** Failures in a row that open the circuit. */
  readonly failureThreshold: number;
  /** Closed state: how often the run of failures starts over; 0: never. */
  readonly intervalMs: number;
  /** How long the circuit stays open before trial requests go through. */
  readonly timeoutMs: number;
  /** Trial requests in the half-open state; as many successes close the circuit. */
  readonly maxRequests: number;
}

export const DEFAULT_CIRCUIT_BREAKER_SETTINGS: CircuitBreakerSettings = Object.freeze({
  failureThreshold: 5,
  intervalMs: 10_000,
  timeoutMs: 30_000,
  maxRequests: 3,
});

/** How one admitted request ended, for its breaker. */
export type BreakerOutcome = "success" | "failure" | "neither";

/** Which breaker a request belongs to. */
export interface BreakerKey {
  readonly provider: ProviderName;
  /** The route's label, e.g. "/openai/v1/chat/completions" (the metrics' `endpoint`). */
  readonly endpoint: string;
  readonly model: string;
}

/** What admit() decided: a ticket to report the outcome with, or a refusal. */
export type Admission =
  | { readonly admitted: true; readonly ticket: BreakerTicket | undefined }
  | { readonly admitted: false; readonly state: "open" | "half_open"; readonly retryAfterSeconds: number };

/** An admitted request's claim on its breaker; report() it exactly once. */
export interface BreakerTicket {
  readonly breaker: Breaker;
  readonly generation: number;
  /** Admitted as one of a half-open circuit's trial requests. */
  readonly trial: boolean;
}

/** Observers of the breakers (metrics, logs). */
export interface CircuitBreakerEvents {
  onStateChange(key: BreakerKey, from: BreakerState, to: BreakerState): void;
  onReject(key: BreakerKey): void;
}

/** Breakers tracked at once; beyond it a new model's requests pass unguarded. */
export const MAX_TRACKED = 10_000;
/** A breaker unused this long may be forgotten when room is needed (never before its open period ends). */
export const FORGET_AFTER_MS = 10 * 60_000;
const SWEEP_EVERY_MS = 1_000;

const FAILURE_STATUSES: ReadonlySet<number> = new Set([503, 504, 529]);

/** Whether an upstream answer with this status counts against its breaker. */
export function isBreakerFailureStatus(status: number): boolean {
  return FAILURE_STATUSES.has(status);
}

/** One breaker's state machine. Time comes in as arguments; nothing here schedules anything. */
export class Breaker {
  state: BreakerState = "closed";
  /** Bumped on every change of state: outcomes of requests admitted before it are ignored. */
  generation = 0;
  /** Requests admitted in this state that have not reported yet. */
  private inFlight = 0;
  /** Half-open: trial requests admitted. */
  private trials = 0;
  private consecutiveFailures = 0;
  private consecutiveSuccesses = 0;
  /** closed: when the run of failures starts over (0: never); open: when trials may start. */
  private expiresAtMs: number;
  private lastUsedMs: number;

  constructor(
    readonly key: BreakerKey,
    /** The key as one string: where CircuitBreakers files this breaker. */
    readonly id: string,
    private readonly settings: CircuitBreakerSettings,
    private readonly events: CircuitBreakerEvents,
    nowMs: number,
  ) {
    this.expiresAtMs = settings.intervalMs > 0 ? nowMs + settings.intervalMs : 0;
    this.lastUsedMs = nowMs;
  }

  /** A closed breaker with nothing counted and nothing in flight behaves exactly like a new one. */
  get idle(): boolean {
    return this.state === "closed" && this.consecutiveFailures === 0 && this.inFlight === 0;
  }

  /**
   * Whether this breaker may go to make room: idle once time is applied, or unused for
   * FORGET_AFTER_MS (and past its open period). A forgotten breaker that was not closed reports
   * closing, so its gauge does not stay at open.
   */
  forget(nowMs: number): boolean {
    this.advance(nowMs);
    if (this.idle) return true;
    if (this.inFlight > 0 || nowMs - this.lastUsedMs < Math.max(FORGET_AFTER_MS, this.settings.timeoutMs)) return false;
    if (this.state !== "closed") this.moveTo("closed", nowMs);
    return true;
  }

  admit(nowMs: number): Admission {
    this.lastUsedMs = nowMs;
    this.advance(nowMs);
    if (this.state === "open") {
      this.events.onReject(this.key);
      return { admitted: false, state: "open", retryAfterSeconds: Math.max(1, Math.ceil((this.expiresAtMs - nowMs) / 1000)) };
    }
    const trial = this.state === "half_open";
    if (trial) {
      if (this.trials >= this.settings.maxRequests) {
        this.events.onReject(this.key);
        // The trials are on their way; their outcome is a response head away.
        return { admitted: false, state: "half_open", retryAfterSeconds: 1 };
      }
      this.trials++;
    }
    this.inFlight++;
    return { admitted: true, ticket: { breaker: this, generation: this.generation, trial } };
  }

  report(generation: number, outcome: BreakerOutcome, nowMs: number): void {
    this.lastUsedMs = nowMs;
    this.advance(nowMs);
    if (generation !== this.generation) return;
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (outcome === "neither") {
      // A trial that told nothing gives its place to another.
      if (this.state === "half_open") this.trials = Math.max(0, this.trials - 1);
      return;
    }
    if (outcome === "success") {
      this.consecutiveFailures = 0;
      this.consecutiveSuccesses++;
      if (this.state === "half_open" && this.consecutiveSuccesses >= this.settings.maxRequests) this.moveTo("closed", nowMs);
      return;
    }
    this.consecutiveSuccesses = 0;
    this.consecutiveFailures++;
    if (this.state === "half_open" || this.consecutiveFailures >= this.settings.failureThreshold) this.moveTo("open", nowMs);
  }

  /** Applies what time alone changes: the closed interval's reset, the end of the open period. */
  private advance(nowMs: number): void {
    if (this.expiresAtMs === 0 || nowMs < this.expiresAtMs) return;
    if (this.state === "closed") {
      this.consecutiveFailures = 0;
      this.consecutiveSuccesses = 0;
      this.expiresAtMs = nowMs + this.settings.intervalMs;
    } else if (this.state === "open") {
      this.moveTo("half_open", nowMs);
    }
  }

  private moveTo(to: BreakerState, nowMs: number): void {
    const from = this.state;
    this.state = to;
    this.generation++;
    this.inFlight = 0;
    this.trials = 0;
    this.consecutiveFailures = 0;
    this.consecutiveSuccesses = 0;
    if (to === "open") this.expiresAtMs = nowMs + this.settings.timeoutMs;
    else if (to === "closed" && this.settings.intervalMs > 0) this.expiresAtMs = nowMs + this.settings.intervalMs;
    else this.expiresAtMs = 0;
    this.events.onStateChange(this.key, from, to);
  }
}

/** Every breaker of one gateway. */
export class CircuitBreakers {
  private readonly breakers = new Map<string, Breaker>();
  private lastSweepMs = Number.NEGATIVE_INFINITY;

  constructor(
    readonly settings: CircuitBreakerSettings,
    private readonly events: CircuitBreakerEvents,
    private readonly now: () => number,
    private readonly maxTracked: number = MAX_TRACKED,
  ) {}

  /** Decides whether a request may go to its provider. */
  admit(key: BreakerKey): Admission {
    // Models are named by clients: two that differ only past 256 characters share a breaker.
    const id = `${key.provider}\n${key.endpoint}\n${key.model.slice(0, 256)}`;
    let breaker = this.breakers.get(id);
    if (breaker === undefined) {
      if (this.breakers.size >= this.maxTracked && !this.makeRoom()) return { admitted: true, ticket: undefined };
      breaker = new Breaker(key, id, this.settings, this.events, this.now());
      this.breakers.set(id, breaker);
    }
    return breaker.admit(this.now());
  }

  /** The outcome of an admitted request; a ticket is reported once. */
  report(ticket: BreakerTicket | undefined, outcome: BreakerOutcome): void {
    if (ticket === undefined) return;
    const { breaker } = ticket;
    breaker.report(ticket.generation, outcome, this.now());
    // Only this very breaker: a stale ticket's may have been replaced under the same key.
    if (breaker.idle && this.breakers.get(breaker.id) === breaker) this.breakers.delete(breaker.id);
  }

  /**
   * Whether the ticket's request may be sent upstream again (--upstream-max-retries): not a
   * half-open trial, whose one outcome the circuit waits on (retried, it would hold the trial
   * through every wait, and a late success would close the circuit on a provider that failed it
   * meanwhile), and not once its circuit has opened (or gone on to half-open) since it was
   * admitted, so that retries do not keep loading a provider the breaker judged to be failing.
   */
  allowsRetry(ticket: BreakerTicket | undefined): boolean {
    if (ticket === undefined) return true;
    if (ticket.trial) return false;
    return ticket.generation === ticket.breaker.generation || ticket.breaker.state === "closed";
  }

  /**
   * Applies elapsed time to every breaker, so their states (and gauges) are current when read,
   * and forgets those unused for FORGET_AFTER_MS: a model nobody asks for any more must not keep
   * its gauge at half-open (and an alert on it firing) for good.
   */
  refresh(): void {
    this.sweep(this.now());
  }

  /** Forgets every breaker that may go at `nowMs` (see Breaker.forget) and answers how many. */
  sweep(nowMs: number): number {
    const before = this.breakers.size;
    for (const [id, breaker] of this.breakers) if (breaker.forget(nowMs)) this.breakers.delete(id);
    return before - this.breakers.size;
  }

  /** Breakers held now (tests, and the bound). */
  get size(): number {
    return this.breakers.size;
  }

  /** Drops every breaker that may go (at most once a second); answers whether there is room. */
  private makeRoom(): boolean {
    const now = this.now();
    if (now - this.lastSweepMs >= SWEEP_EVERY_MS) {
      this.lastSweepMs = now;
      this.sweep(now);
    }
    return this.breakers.size < this.maxTracked;
  }
}
