// A bounded, expiring cache of per-user request handlers (reference §6 "Pool"): keyed by
// "<userId>|<apiKeyId>", LRU-evicted beyond maxItems, entries expire ttlMs after creation
// (hits do not extend them), and concurrent misses for one key share one construction.

import type { Clock } from "./clock.js";
import { systemClock } from "./clock.js";
import { PoolShuttingDownError } from "./errors.js";

export const DEFAULT_POOL_OPTIONS = Object.freeze({
  maxItems: 5000,
  ttlMs: 15 * 60_000,
});

/** Pool events, for metrics. */
export type PoolEvent = "hit" | "miss" | "evict" | "expire";

export interface HandlerPoolOptions<T> {
  /** Most entries kept; the least recently used is evicted beyond it. Default 5000. */
  readonly maxItems?: number;
  /** Lifetime of an entry from its creation. Default 15 min. */
  readonly ttlMs?: number;
  readonly clock?: Clock;
  /** Called for an entry leaving the pool (evicted, expired, cleared, shut down). */
  readonly onRemove?: (value: T, key: string) => void;
  readonly onEvent?: (event: PoolEvent) => void;
  /** Whether a value is serving a request now: sweep() keeps such an entry even when expired. */
  readonly inUse?: (value: T) => boolean;
}

/** Counters since creation. */
export interface PoolStats {
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
  readonly expirations: number;
  readonly size: number;
}

interface Entry<T> {
  readonly value: T;
  readonly expiresAt: number;
}

/** The pool key of a user's handler: a different API key of the same user gets its own handler. */
export function poolKey(userId: string, apiKeyId: string): string {
  return `${userId}|${apiKeyId}`;
}

export class HandlerPool<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly inflight = new Map<string, Promise<T>>();
  private readonly maxItems: number;
  private readonly ttlMs: number;
  private readonly clock: Clock;
  private closed = false;
  private generation = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private expirations = 0;

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

    const promise = this.build(key, build, this.generation);
    this.inflight.set(key, promise);
    const settle = (): void => {
      if (this.inflight.get(key) === promise) this.inflight.delete(key);
    };
    promise.then(settle, settle);
    return promise;
  }

  private async build(key: string, build: () => Promise<T>, generation: number): Promise<T> {
    const value = await build();
    // A clear or shutdown while building: hand the value to this caller, keep it out of the pool.
    if (this.closed || generation !== this.generation) {
      this.options.onRemove?.(value, key);
      if (this.closed) throw new PoolShuttingDownError();
      return value;
    }
    this.entries.set(key, { value, expiresAt: this.clock.now() + this.ttlMs });
    this.evictOverflow();
    return value;
  }

  /** Drops every entry; builds in flight are not cached. */
  clear(): void {
    this.generation += 1;
    this.inflight.clear();
    for (const [key, entry] of [...this.entries]) this.remove(key, entry);
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
    return dropped;
  }

  stats(): PoolStats {
    return {
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      expirations: this.expirations,
      size: this.entries.size,
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
