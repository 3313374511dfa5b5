// A bounded, expiring cache of per-user request handlers (reference §6 "Pool"): keyed by
// "<userId>|<apiKeyId>", LRU-evicted beyond maxItems, entries expire ttlMs after creation
// (hits do not extend them), and concurrent misses for one key share one construction. A pushed
// authorization change drops the handlers of its key or user at once (revokeApiKey, revokeUser,
// revokeAll): a handler carries its user's identity and per-user set-up, which must not outlive
// a revoked key or suspended user by up to 15 minutes.

import type { Clock } from "./clock.js";
import { systemClock } from "./clock.js";
import { PoolShuttingDownError } from "./errors.js";

export const DEFAULT_POOL_OPTIONS = Object.freeze({
  maxItems: 5000,
  ttlMs: 15 * 60_000,
});

/** Pool events, for metrics. */
export type PoolEvent = "hit" | "miss" | "evict" | "expire" | "revoke";

export interface HandlerPoolOptions<T> {
  /** Most entries kept; the least recently used is evicted beyond it. Default 5000. */
  readonly maxItems?: number;
  /** Lifetime of an entry from its creation. Default 15 min. */
  readonly ttlMs?: number;
  readonly clock?: Clock;
  /**
   * Called for an entry leaving the pool (evicted, expired, cleared, shut down, revoked — the
   * last only once no request uses it).
   */
  readonly onRemove?: (value: T, key: string) => void;
  readonly onEvent?: (event: PoolEvent) => void;
  /**
   * Whether a value is serving a request now: sweep() keeps such an entry even when expired, and
   * a revoked one leaves the pool only when released (or swept) after its last request.
   */
  readonly inUse?: (value: T) => boolean;
}

/** Counters since creation. */
export interface PoolStats {
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
  readonly expirations: number;
  /** Entries dropped because a pushed change revoked their key or user. */
  readonly revocations: number;
  /** Entries held: those handed out on a hit, and revoked ones still serving a request. */
  readonly size: number;
}

interface Entry<T> {
  readonly value: T;
  readonly expiresAt: number;
}

const KEY_SEPARATOR = "|";

/** The pool key of a user's handler: a different API key of the same user gets its own handler. */
export function poolKey(userId: string, apiKeyId: string): string {
  return `${userId}${KEY_SEPARATOR}${apiKeyId}`;
}

export class HandlerPool<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly inflight = new Map<string, Promise<T>>();
  /**
   * Revoked values that were serving a request, by value, with their key: no longer handed out
   * (their key's next acquire builds afresh), but kept — and not handed to onRemove — until
   * their last request ends, so a revocation never tears down a stream it lets finish. Outside
   * maxItems, but never more than the requests in flight.
   */
  private readonly retiring = new Map<T, string>();
  private readonly maxItems: number;
  private readonly ttlMs: number;
  private readonly clock: Clock;
  private closed = false;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private expirations = 0;
  private revocations = 0;

  constructor(private readonly options: HandlerPoolOptions<T> = {}) {
    this.maxItems = Math.max(1, options.maxItems ?? DEFAULT_POOL_OPTIONS.maxItems);
    this.ttlMs = Math.max(1, options.ttlMs ?? DEFAULT_POOL_OPTIONS.ttlMs);
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Returns the handler for `key`, building it with `build` on a miss. Concurrent misses for
   * one key wait for a single build; a failed build is not cached and fails every waiter.
   */
  async acquire(key: string, build: () => Promise<T>): Promise<T> {
    if (this.closed) throw new PoolShuttingDownError();
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      if (entry.expiresAt > this.clock.now()) {
        // Refresh recency (Map order) but not the expiry.
        this.entries.delete(key);
        this.entries.set(key, entry);
        this.hits += 1;
        this.options.onEvent?.("hit");
        return entry.value;
      }
      this.expire(key, entry);
    }
    this.misses += 1;
    this.options.onEvent?.("miss");
    const pending = this.inflight.get(key);
    if (pending !== undefined) return pending;

    // A clear, shutdown or revocation while building takes the key's build out of `inflight`.
    const promise: Promise<T> = this.build(key, build, () => this.inflight.get(key) === promise);
    this.inflight.set(key, promise);
    const settle = (): void => {
      if (this.inflight.get(key) === promise) this.inflight.delete(key);
    };
    promise.then(settle, settle);
    return promise;
  }

  private async build(key: string, build: () => Promise<T>, current: () => boolean): Promise<T> {
    const value = await build();
    // A clear, shutdown or revocation while building: the value may predate the change, so it
    // goes to the callers that asked before it and stays out of the pool.
    if (this.closed || !current()) {
      this.options.onRemove?.(value, key);
      if (this.closed) throw new PoolShuttingDownError();
      return value;
    }
    this.entries.set(key, { value, expiresAt: this.clock.now() + this.ttlMs });
    this.evictOverflow();
    return value;
  }

  /** Drops every entry, revoked ones still serving included; builds in flight are not cached. */
  clear(): void {
    this.inflight.clear();
    for (const [key, entry] of [...this.entries]) this.remove(key, entry);
    for (const [value, key] of this.retiring) {
      this.retiring.delete(value);
      this.options.onRemove?.(value, key);
    }
  }

  /** Revokes the handler of one API key (a pushed change to it): see revoke(). */
  revokeApiKey(apiKeyId: string): void {
    const suffix = KEY_SEPARATOR + apiKeyId;
    this.revoke((key) => key.endsWith(suffix));
  }

  /** Revokes the handlers of every API key of one user (a pushed change to them): see revoke(). */
  revokeUser(userId: string): void {
    const prefix = userId + KEY_SEPARATOR;
    this.revoke((key) => key.startsWith(prefix));
  }

  /** Revokes every handler (the control plane cannot tell what changed): see revoke(). */
  revokeAll(): void {
    this.revoke(() => true);
  }

  /**
   * Tells the pool that `value` serves no request now. A value revoked while it was serving
   * leaves the pool here, right after the request it was kept for; for any other value this does
   * nothing.
   */
  release(value: T): void {
    // Checked first: this runs after every request, and almost always nothing is retiring.
    if (this.retiring.size === 0) return;
    const key = this.retiring.get(value);
    if (key === undefined || this.options.inUse?.(value) === true) return;
    this.retire(value, key);
  }

  /** Refuses further acquires ("pool shutting down") and drops every entry. */
  shutdown(): void {
    this.closed = true;
    this.clear();
  }

  /**
   * Drops the entries expired by `nowMs` that no running request uses, and answers how many:
   * without it an expired entry stays until its key asks again or the bound pushes it out, so
   * a quiet gateway keeps a burst's handlers for good.
   */
  sweep(nowMs: number): number {
    let dropped = 0;
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > nowMs || this.options.inUse?.(entry.value) === true) continue;
      this.expire(key, entry);
      dropped += 1;
    }
    // Revoked values whose release() never came (a caller that does not report its requests).
    for (const [value, key] of this.retiring) {
      if (this.options.inUse?.(value) === true) continue;
      this.retire(value, key);
      dropped += 1;
    }
    return dropped;
  }

  stats(): PoolStats {
    return {
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      expirations: this.expirations,
      revocations: this.revocations,
      size: this.entries.size + this.retiring.size,
    };
  }

  private evictOverflow(): void {
    while (this.entries.size > this.maxItems) {
      const oldest = this.entries.entries().next();
      if (oldest.done === true) return;
      const [key, entry] = oldest.value;
      this.remove(key, entry);
      this.evictions += 1;
      this.options.onEvent?.("evict");
    }
  }

  /**
   * Drops the entries whose key `matches`, and the builds in flight for such keys (their value,
   * perhaps authorized before the change, goes to its callers but not into the pool). An entry
   * serving a request is not torn down: it stops being handed out at once, and leaves when its
   * last request ends (release) — the idle sweep's rule, so a revocation never cuts a stream
   * the control plane let start. Its key's next request builds a fresh handler meanwhile.
   *
   * A scan of every entry: revocations come at the pace of admin changes, and the pool is bounded.
   */
  private revoke(matches: (key: string) => boolean): void {
    // Deleting the entry a Map iteration is at is safe: no copy of a 5,000-entry pool per push.
    for (const key of this.inflight.keys()) if (matches(key)) this.inflight.delete(key);
    for (const [key, entry] of this.entries) {
      if (!matches(key)) continue;
      this.entries.delete(key);
      if (this.options.inUse?.(entry.value) === true) this.retiring.set(entry.value, key);
      else this.retire(entry.value, key);
    }
  }

  /** A revoked value leaves the pool. */
  private retire(value: T, key: string): void {
    this.retiring.delete(value);
    this.options.onRemove?.(value, key);
    this.revocations += 1;
    this.options.onEvent?.("revoke");
  }

  private expire(key: string, entry: Entry<T>): void {
    this.remove(key, entry);
    this.expirations += 1;
    this.options.onEvent?.("expire");
  }

  private remove(key: string, entry: Entry<T>): void {
    this.entries.delete(key);
    this.options.onRemove?.(entry.value, key);
  }
}

/** Creates a HandlerPool. */
export function createHandlerPool<T>(options: HandlerPoolOptions<T> = {}): HandlerPool<T> {
  return new HandlerPool<T>(options);
}
