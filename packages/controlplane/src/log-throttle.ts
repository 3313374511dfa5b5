// Keeps an outage from flooding the log: one line per kind of failure per interval, the next one
// saying how many were held back. A database outage fails every RPC and admin request; each
// failure logged with its stack was kilobytes per request.

export class LogThrottle {
  private readonly next = new Map<string, { at: number; held: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** undefined: hold this line back; a number: log it, with that many held back since the last. */
  take(key: string): number | undefined {
    const now = this.now();
    const state = this.next.get(key);
    if (state !== undefined && now < state.at) {
      state.held += 1;
      return undefined;
    }
    const held = state?.held ?? 0;
    this.next.set(key, { at: now + this.intervalMs, held: 0 });
    return held;
  }
}
