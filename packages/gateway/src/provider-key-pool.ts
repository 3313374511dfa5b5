// Several central keys for one provider (the reference's key pool): requests use the first key
// that is not cooling down; when the provider refuses a key (429 rate limited, 401/403 rejected)
// it cools down and the same request is sent again with the next key, before anything reached
// the client. A rate-limited key comes back after the provider's Retry-After (30 s without one,
// at most 5 min); a rejected one after 5 min, so a key that was rotated out costs one extra
// round trip every 5 min rather than forever, and a key that was only briefly refused recovers.
//
// When every key a request tries refuses it, that may be the request (a model the project may
// not use, a prompt over a token limit: cooling the keys for it would let one member turn
// failover off for everyone) or the provider limiting the whole organisation (then trying every
// key on every request multiplies the load it is refusing). So the request's cool-downs are
// undone, and failover pauses instead (the provider's Retry-After, at most 30 s): meanwhile each
// request makes one attempt, as with a single key.
//
// Keys are tried in the order given: the first is the primary, the others take over while it
// cools. The pool is per replica and only used in centralized mode (BYOK requests carry the
// user's own key).
//
// The keys can be replaced while requests run (an operator rotating a provider key: `weir`
// reads its key files again on SIGHUP). Cool-downs are kept by key, so a key that stays keeps
// its own; a new key is usable at once, and a removed one is never picked again (a request
// already using it finishes with it).

import type { IncomingHttpHeaders, UpstreamResponse } from "./upstream.js";

/** Statuses that mean "this key, not this request": another key may well succeed. */
const KEY_REFUSED_STATUSES: ReadonlySet<number> = new Set([401, 403, 429]);

export const RATE_LIMITED_COOLDOWN_MS = 30_000;
export const REJECTED_COOLDOWN_MS = 300_000;
const MAX_COOLDOWN_MS = 300_000;
/** Longest and shortest failover pause after a request every key refused (a "Retry-After: 0" still pauses). */
export const MAX_FAILOVER_PAUSE_MS = 30_000;
const MIN_FAILOVER_PAUSE_MS = 1_000;

/** Whether the provider refused the key (not the request). */
export function isKeyRefusedStatus(status: number): boolean {
  return KEY_REFUSED_STATUSES.has(status);
}

/** Retry-After in seconds (a date is not worth parsing here: providers send seconds). */
export function retryAfterMs(headers: IncomingHttpHeaders): number | undefined {
  const raw = headers["retry-after"];
  const value = Number(Array.isArray(raw) ? raw[0] : raw);
  return raw !== undefined && Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
}

export class ProviderKeyPool {
  private current: readonly string[];
  /** Until when a key cools down (absent: usable). By key, so that a replacement keeps the state of the keys it keeps. */
  private readonly coolUntilMs = new Map<string, number>();
  private failoverPausedUntilMs = 0;

  constructor(
    keys: readonly string[],
    private readonly now: () => number,
  ) {
    this.current = Object.freeze([...keys]);
  }

  /** The keys, in the order they are tried. */
  get keys(): readonly string[] {
    return this.current;
  }

  get size(): number {
    return this.current.length;
  }

  /**
   * Uses `keys` from now on, in their order (the caller has checked them: not empty, no blank
   * key, none twice). Keys kept keep their cool-downs. New keys also lift a failover pause: it
   * said that every key refused, which says nothing of the new ones.
   */
  replace(keys: readonly string[]): { readonly added: number; readonly removed: number } {
    const before = new Set(this.current);
    const after = new Set(keys);
    let removed = 0;
    for (const key of this.current) {
      if (after.has(key)) continue;
      removed++;
      this.coolUntilMs.delete(key);
    }
    const added = keys.filter((key) => !before.has(key)).length;
    this.current = Object.freeze([...keys]);
    if (added > 0) this.failoverPausedUntilMs = 0;
    return { added, removed };
  }

  /**
   * The key for the next attempt: the first usable one not in `tried`. When none is usable: for
   * a first attempt the key that comes back soonest (the provider decides, not the gateway);
   * after a refusal, undefined (the others are known to be refused right now).
   */
  pick(tried: ReadonlySet<string> = NO_KEYS): string | undefined {
    const now = this.now();
    let soonest: string | undefined;
    let soonestAt = 0;
    for (const key of this.current) {
      if (tried.has(key)) continue;
      const until = this.coolUntilMs.get(key);
      if (until === undefined || until <= now) return key;
      if (soonest === undefined || until < soonestAt) {
        soonest = key;
        soonestAt = until;
      }
    }
    return tried.size === 0 ? soonest : undefined;
  }

  /** The provider refused `key` with `status`; it cools down. Answers what undoes that. */
  refused(key: string, status: number, retryAfter: number | undefined): () => void {
    // A key replaced meanwhile is not picked again: nothing to cool.
    if (!this.current.includes(key)) return () => {};
    const before = this.coolUntilMs.get(key);
    const ms = status === 429 ? Math.min(retryAfter ?? RATE_LIMITED_COOLDOWN_MS, MAX_COOLDOWN_MS) : REJECTED_COOLDOWN_MS;
    const until = Math.max(before ?? 0, this.now() + ms);
    this.coolUntilMs.set(key, until);
    // Undone only if no later refusal (or replacement) moved it.
    return () => {
      if (this.coolUntilMs.get(key) !== until) return;
      if (before === undefined) this.coolUntilMs.delete(key);
      else this.coolUntilMs.set(key, before);
    };
  }

  /** No failover for `ms` (1 to 30 s): every key just refused the same request. */
  pauseFailover(ms: number): void {
    const pause = Math.max(MIN_FAILOVER_PAUSE_MS, Math.min(ms, MAX_FAILOVER_PAUSE_MS));
    this.failoverPausedUntilMs = Math.max(this.failoverPausedUntilMs, this.now() + pause);
  }

  get failoverPaused(): boolean {
    return this.now() < this.failoverPausedUntilMs;
  }

  /** Keys usable now (for the metrics). */
  usable(): number {
    const now = this.now();
    let n = 0;
    for (const key of this.current) if ((this.coolUntilMs.get(key) ?? 0) <= now) n++;
    return n;
  }
}

const NO_KEYS: ReadonlySet<string> = new Set();

/** Where requestWithKeyFailover keeps the key in use, so a caller knows it even after a throw. */
export interface KeyInUse {
  key: string | undefined;
}

/**
 * Sends a request with `inUse.key` and, while the provider refuses the key (401, 403, 429) and
 * another usable key is left, again with the next one — only ever before anything reached the
 * client. A refused key cools down at once; when every key the request tried refused it, the
 * request's cool-downs are undone and failover pauses (see the top of this file). `send` may
 * throw (the connection failed): that ends the attempts, the cool-downs so far kept. With one key
 * (the usual case) or none (BYOK), this is `send` itself: no extra promise on the hot path.
 */
export function requestWithKeyFailover(keys: ProviderKeyPool, inUse: KeyInUse, send: SendWithKey, onFailover: OnFailover): Promise<UpstreamResponse> {
  if (inUse.key === undefined || keys.size < 2) return send(inUse.key);
  return failingOver(keys, inUse, send, onFailover);
}

/** One attempt with `key` (undefined: no central key, BYOK). */
export type SendWithKey = (key: string | undefined) => Promise<UpstreamResponse>;
/** Told of each failover, before the next attempt. */
export type OnFailover = (refused: { key: string; status: number }, next: string) => void;

async function failingOver(keys: ProviderKeyPool, inUse: KeyInUse, send: SendWithKey, onFailover: OnFailover): Promise<UpstreamResponse> {
  let tried: Set<string> | undefined;
  let undo: (() => void)[] | undefined;
  for (;;) {
    const key = inUse.key!;
    const response = await send(key);
    if (!isKeyRefusedStatus(response.statusCode) || keys.failoverPaused) return response;
    const retryAfter = retryAfterMs(response.headers);
    (undo ??= []).push(keys.refused(key, response.statusCode, retryAfter));
    (tried ??= new Set()).add(key);
    const next = keys.pick(tried);
    if (next === undefined) {
      for (const u of undo) u();
      keys.pauseFailover(retryAfter ?? MAX_FAILOVER_PAUSE_MS);
      return response;
    }
    // The refusal is small; reading it lets its connection serve the next attempt.
    await response.body.bytes().catch(() => undefined);
    onFailover({ key, status: response.statusCode }, next);
    inUse.key = next;
  }
}
