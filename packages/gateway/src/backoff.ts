// Exponential backoff with jitter: 50 ms doubling to a 10 s cap (DESIGN §3), used by the
// control-plane probe loop and the record queue's retries.

/** Tuning for a Backoff. */
export interface BackoffOptions {
  /** First delay; default 50 ms. */
  readonly initialMs?: number;
  /** Cap for any delay; default 10 s. */
  readonly maxMs?: number;
  /** Growth per attempt; default 2. */
  readonly factor?: number;
  /** Relative jitter in [0, 1): each delay is scaled by a random factor in [1 - jitter, 1 + jitter]; default 0.2. */
  readonly jitter?: number;
  /** Source of randomness in [0, 1); default Math.random (tests pass a constant). */
  readonly random?: () => number;
  /**
   * Jitter only shortens a delay: scaled by a random factor in [1 - jitter, 1] (the OpenAI and
   * Anthropic SDKs' form, which upstream retries follow). Default false.
   */
  readonly downwardJitter?: boolean;
}

export const DEFAULT_BACKOFF = Object.freeze({
  initialMs: 50,
  maxMs: 10_000,
  factor: 2,
  jitter: 0.2,
});

/** Hands out successive delays; reset() after a success. */
export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private readonly downwardJitter: boolean;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? DEFAULT_BACKOFF.initialMs;
    this.maxMs = options.maxMs ?? DEFAULT_BACKOFF.maxMs;
    this.factor = options.factor ?? DEFAULT_BACKOFF.factor;
    this.jitter = Math.min(Math.max(options.jitter ?? DEFAULT_BACKOFF.jitter, 0), 0.99);
    this.random = options.random ?? Math.random;
    this.downwardJitter = options.downwardJitter ?? false;
  }

  /** Number of delays handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The next delay in milliseconds (never above maxMs, never below 1). */
  next(): number {
    const base = Math.min(this.initialMs * this.factor ** this.attempt, this.maxMs);
    this.attempt += 1;
    const scale = this.downwardJitter ? 1 - this.jitter * this.random() : 1 - this.jitter + 2 * this.jitter * this.random();
    return Math.max(1, Math.min(Math.round(base * scale), this.maxMs));
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** Creates a Backoff. */
export function createBackoff(options: BackoffOptions = {}): Backoff {
  return new Backoff(options);
}
