// A bounded, expiring cache of per-user request handlers (reference §6 "Pool"): keyed by
// "<userId>|<apiKeyId>" (poolKey), LRU-evicted beyond maxItems, entries expire ttlMs after creation
// (hits do not extend them), and concurrent misses for one key share one construction. A pushed
// authorization change drops the handlers of its key or user at once (revokeApiKey, revokeUser,
// revokeAll): a handler carries its user's identity and per-user set-up, which must not outlive
// a revoked key or suspended user by up to 15 minutes.

import type { Clock } from "./clock.js";
import { systemClock } from "./clock.js";
import { PoolShuttingDownError } from "./errors.js";
import { PoolKeyIndex } from "./pool-key-index.js";
import type { PoolKeyIndexContents } from "./pool-key-index.js";

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

export class HandlerPool<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly inflight = new Map<string, Promise<T>>();
  /**
   * The keys of `entries` and `inflight`, by user and by API key: a revocation visits its own
   * keys only. Kept exact wherever a key enters or leaves either map, except a hit's recency
   * refresh (the key leaves and comes back at once), so a hit does not pay for it.
   */
  private readonly keys = new PoolKeyIndex();
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
    this.keys.add(key);
    const settle = (): void => {
      if (this.inflight.get(key) !== promise) return;
      this.inflight.delete(key);
      this.unindexIfGone(key);
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
    // Indexed already: a current build's key is in `inflight` until this settles.
    this.entries.set(key, { value, expiresAt: this.clock.now() + this.ttlMs });
    this.evictOverflow();
    return value;
  }

  /**
   * Drops every entry, and the builds in flight (their values go to their callers, not into the
   * pool). Each value leaves through onRemove at once, even one serving a request: an entry in
   * use, and a revoked one kept only until its request ends (retiring). Neither counts as a
   * revocation, and a later release() of such a value does nothing.
   */
  clear(): void {
    // Deleting the entry a Map iteration is at is safe: no copy of the pool first.
    for (const key of this.inflight.keys()) {
      this.inflight.delete(key);
      this.unindexIfGone(key);
    }
    for (const [key, entry] of this.entries) this.remove(key, entry);
    for (const [value, key] of this.retiring) {
      this.retiring.delete(value);
      this.options.onRemove?.(value, key);
    }
  }

  /** Revokes the handler of one API key (a pushed change to it): see revokeKey(). */
  revokeApiKey(apiKeyId: string): void {
    this.revokeKeys(this.keys.ofApiKey(apiKeyId));
  }

  /** Revokes the handlers of every API key of one user (a pushed change to them): see revokeKey(). */
  revokeUser(userId: string): void {
    this.revokeKeys(this.keys.ofUser(userId));
  }

  /** Revokes every handler (the control plane cannot tell what changed): see revokeKey(). */
  revokeAll(): void {
    // Deleting the entry a Map iteration is at is safe: no copy of a 5,000-entry pool per push.
    for (const key of this.inflight.keys()) this.revokeKey(key);
    for (const key of this.entries.keys()) this.revokeKey(key);
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

  /**
   * For tests: the index next to one built afresh from the keys of the entries and builds in
   * flight; they must be equal after any sequence of calls.
   */
  indexAgainstScan(): { indexed: PoolKeyIndexContents; scanned: PoolKeyIndexContents } {
    const scanned = new PoolKeyIndex();
    for (const key of this.entries.keys()) scanned.add(key);
    for (const key of this.inflight.keys()) scanned.add(key);
    return { indexed: this.keys.contents(), scanned: scanned.contents() };
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

  /** `keys` is a copy: an onRemove that asks for one of them again starts a build to keep. */
  private revokeKeys(keys: readonly string[]): void {
    for (const key of keys) this.revokeKey(key);
  }

  /**
   * Drops the entry of `key`, and its build in flight (the value, perhaps authorized before the
   * change, goes to its callers but not into the pool). An entry serving a request is not torn
   * down: it stops being handed out at once, and leaves when its last request ends (release) —
   * the idle sweep's rule, so a revocation never cuts a stream the control plane let start. Its
   * key's next request builds a fresh handler meanwhile.
   */
  private revokeKey(key: string): void {
    this.inflight.delete(key);
    const entry = this.entries.get(key);
    if (entry !== undefined) this.entries.delete(key);
    this.keys.delete(key);
    if (entry === undefined) return;
    if (this.options.inUse?.(entry.value) === true) this.retiring.set(entry.value, key);
    else this.retire(entry.value, key);
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
    this.unindexIfGone(key);
    this.options.onRemove?.(entry.value, key);
  }

  /** Takes `key` out of the index once neither an entry nor a build in flight holds it. */
  private unindexIfGone(key: string): void {
    if (!this.entries.has(key) && !this.inflight.has(key)) this.keys.delete(key);
  }
}

/** Creates a HandlerPool. */
export function createHandlerPool<T>(options: HandlerPoolOptions<T> = {}): HandlerPool<T> {
  return new HandlerPool<T>(options);
}
