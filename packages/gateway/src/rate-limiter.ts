// Per-credential request rate limit (reference §6 data-plane middleware: `RateLimit` requests per
// one-second window, per token). Fixed windows: the counts start over at every whole second of
// the gateway's clock, so the table holds only the credentials seen in the current second and
// needs no sweeping. Each replica counts its own requests.

/**
 * The key a request is counted under: its delegated API key id (in-process requests) or the
 * credential it presents, in separate namespaces. SECURITY: a network client presenting the text
 * "<prefix><someone's key id>" as its token must not spend that user's in-process budget, and
 * key ids are public (the first ten characters of every key).
 */
export function rateLimitKey(delegatedApiKeyId: string | undefined, token: string | undefined): string | undefined {
  if (delegatedApiKeyId !== undefined) return `delegated:${delegatedApiKeyId}`;
  return token === undefined ? undefined : `token:${token}`;
}

export class RateLimiter {
  private window = Number.NaN;
  private readonly counts = new Map<string, number>();

  /** `limit` requests per second per key; `now` gives epoch ms. */
  constructor(
    readonly limit: number,
    private readonly now: () => number,
  ) {}

  /**
   * Counts one request of `key`. Answers 0 when it is within the limit, otherwise the whole
   * seconds until the window ends (for Retry-After). A refused request is not counted.
   */
  take(key: string): number {
    const nowMs = this.now();
    const window = Math.floor(nowMs / 1000);
    if (window !== this.window) {
      this.window = window;
      this.counts.clear();
    }
    const used = this.counts.get(key) ?? 0;
    if (used >= this.limit) return Math.max(1, Math.ceil(((window + 1) * 1000 - nowMs) / 1000));
    this.counts.set(key, used + 1);
    return 0;
  }
}
