// The control plane's notion of "now", injected wherever a decision depends on time (key expiry,
// OAuth token expiry, the once-a-minute last_used_at write and its backoff) so tests drive time
// without sleeping (CONVENTIONS: "clocks injected").

/** Wall-clock time. */
export interface Clock {
  now(): Date;
}

/** The real clock. */
export const systemClock: Clock = Object.freeze({ now: () => new Date() });
