// The gateway's cache of IsAuthorized answers (API 1.1; DESIGN §3, §6). Peers that cache
// authorization across replicas keep serving revoked keys (peers.md §3.3: LiteLLM #9820,
// #2149); this one is only ever used while the control plane pushes changes to it
// (AuthorizationWatch), so a cached answer is at most push-latency stale:
// - it is ACTIVE only between a watch stream's first reset and the stream's end; while
//   inactive every request asks the control plane (bypass) and nothing is stored;
// - keyed by sha256 of the presented credential — SECURITY: the plaintext is never a map key
//   and never stored;
// - bounded (LRU beyond maxEntries); allowed answers expire ttlMs after they were fetched (60 s
//   at most by default) or at the key's own expiry, whichever is first — even without a push;
// - refusals (403 answers) are cached only negativeTtlMs (≤ 5 s), against a client hammering
//   with a bad key, and every pushed change forgets all of them (a reactivated user must not
//   wait for them to expire);
// - allowed answers are indexed by API key id and user id, for the pushed invalidations;
// - concurrent misses for one credential share ONE IsAuthorized call; each waiter can still
//   give up on its own (its client went away) without cancelling the others;
// - an answer fetched while a change to ITS key or user arrived may predate the change, so it is
//   handed to its callers but not stored, and requests after any change do not join a call that
//   began before it. Changes to other keys and users do not stop an answer being stored: with
//   one global counter, a control plane slower than the gap between admin changes (any user's)
//   got nothing stored, every request asked it, and it slowed further (a soak test's 6-minute
//   partial outage).

import { hash } from "node:crypto";
import type { Clock } from "./clock.js";
import { systemClock } from "./clock.js";
import type { AuthorizedUser } from "./control-plane-client.js";
import { ControlPlaneUnavailableError, UnauthorizedError, isUnauthorizedError } from "./errors.js";

/** Tuning of an AuthCache; defaults in DEFAULT_AUTH_CACHE_OPTIONS. */
export interface AuthCacheOptions {
  /** Most answers kept (allowed and refused together); least recently used evicted beyond. */
  readonly maxEntries?: number;
  /** Lifetime of an allowed answer from when it was fetched. */
  readonly ttlMs?: number;
  /** Lifetime of a refusal. */
  readonly negativeTtlMs?: number;
  /** Most key and user changes remembered for running calls (see noteChange); default 10,000. */
  readonly maxRememberedChanges?: number;
  readonly clock?: Clock;
  /** Called for every lookup outcome and invalidation (metrics). */
  readonly onEvent?: (event: AuthCacheEvent) => void;
}

export const DEFAULT_AUTH_CACHE_OPTIONS = Object.freeze({
  maxEntries: 10_000,
  ttlMs: 60_000,
  negativeTtlMs: 5_000,
  maxRememberedChanges: 10_000,
});

/**
 * hit / negative_hit: answered from the cache; miss: asked the control plane; shared: joined a
 * call already in flight for the same credential; bypass: cache inactive, asked the control
 * plane; evict: LRU eviction; invalidate: a pushed change removed entries.
 */
export type AuthCacheEvent = "hit" | "negative_hit" | "miss" | "shared" | "bypass" | "evict" | "invalidate";

/** What IsAuthorized answered, with how long it may be trusted. */
export interface AuthorizationAnswer {
  readonly user: AuthorizedUser;
  /** Epoch ms at which the API key expires; undefined when it never does. */
  readonly keyExpiresAtMs: number | undefined;
}

/** A running IsAuthorized call that requests for the same credential share. */
interface Inflight {
  readonly promise: Promise<AuthorizationAnswer>;
  /** The count of pushed changes when it began. */
  readonly sinceChange: number;
}

type Entry =
  | { readonly kind: "allowed"; readonly user: AuthorizedUser; readonly expiresAt: number }
  | { readonly kind: "refused"; readonly reason: string; readonly expiresAt: number };

/** sha256 of what identifies a credential. SECURITY: the only form in which it is kept. */
export function credentialDigest(material: string): string {
  // One-shot hash: no Hash object per request.
  return hash("sha256", material, "base64url");
}

/** The user of an answer; one function, so no closure is made per call. */
export const userOf = (answer: AuthorizationAnswer): AuthorizedUser => answer.user;

/** Rejects as soon as `signal` aborts, otherwise settles like `promise`. */
function abandonable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(new ControlPlaneUnavailableError({ cause: signal.reason }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new ControlPlaneUnavailableError({ cause: signal.reason }));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

export class AuthCache {
  /** Digest -> answer, least recently used first. */
  private readonly entries = new Map<string, Entry>();
  private readonly byApiKey = new Map<string, Set<string>>();
  private readonly byUser = new Map<string, Set<string>>();
  private readonly refused = new Set<string>();
  private readonly inflight = new Map<string, Inflight>();
  /** Pushed changes so far; a load remembers the count it began at. */
  private changes = 0;
  /** API key id / user id -> the count of the last change to it, while a load might predate it. */
  private readonly apiKeyChanged = new Map<string, number>();
  private readonly userChanged = new Map<string, number>();
  /** The change counts running loads began at (count -> loads), to know what to remember. */
  private readonly running = new Map<number, number>();
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly maxRememberedChanges: number;
  private readonly clock: Clock;
  /** Bumped by clear() and when too many changes were to be remembered: no answer of a load begun before it is stored. */
  private generation = 0;
  private isActive = false;

  constructor(private readonly options: AuthCacheOptions = {}) {
    const d = DEFAULT_AUTH_CACHE_OPTIONS;
    this.maxEntries = Math.max(1, options.maxEntries ?? d.maxEntries);
    this.ttlMs = Math.max(0, options.ttlMs ?? d.ttlMs);
    this.negativeTtlMs = Math.max(0, options.negativeTtlMs ?? d.negativeTtlMs);
    this.maxRememberedChanges = Math.max(1, options.maxRememberedChanges ?? d.maxRememberedChanges);
    this.clock = options.clock ?? systemClock;
  }

  /** Whether answers are cached (a watch stream is connected). */
  get active(): boolean {
    return this.isActive;
  }

  /** Answers held, allowed and refused. */
  get size(): number {
    return this.entries.size;
  }

  /** Key and user changes remembered for running loads (see noteChange). */
  get rememberedChanges(): number {
    return this.apiKeyChanged.size + this.userChanged.size;
  }

  /**
   * Drops the answers expired by `nowMs` and the changes no running load may predate, and
   * answers how many: otherwise both wait for their key to be asked again (or the next change),
   * and a quiet gateway keeps a burst's answers for good.
   */
  sweep(nowMs: number): number {
    let dropped = 0;
    for (const [digest, entry] of this.entries) {
      if (entry.expiresAt > nowMs) continue;
      this.remove(digest, entry);
      dropped += 1;
    }
    const changes = this.rememberedChanges;
    this.forgetSettledChanges();
    return dropped + changes - this.rememberedChanges;
  }

  /** A watch stream (re)started with a reset: forget everything, then cache. */
  activate(): void {
    this.clear();
    this.isActive = true;
  }

  /** The watch stream is gone: forget everything and stop caching until the next activate(). */
  deactivate(): void {
    this.isActive = false;
    this.clear();
  }

  /** Forgets every answer (a reset, or a change to the gateway's own key). */
  clear(): void {
    this.generation += 1;
    this.inflight.clear();
    this.apiKeyChanged.clear();
    this.userChanged.clear();
    if (this.entries.size > 0) this.options.onEvent?.("invalidate");
    this.entries.clear();
    this.byApiKey.clear();
    this.byUser.clear();
    this.refused.clear();
  }

  /** Forgets the answers for one API key (and every refusal). */
  invalidateApiKey(apiKeyId: string): void {
    this.noteChange(this.apiKeyChanged, apiKeyId);
    this.invalidate(this.byApiKey.get(apiKeyId));
  }

  /** Forgets the answers for every key of one user (and every refusal). */
  invalidateUser(userId: string): void {
    this.noteChange(this.userChanged, userId);
    this.invalidate(this.byUser.get(userId));
  }

  /**
   * The user `credential` (any string that identifies the presented credential) belongs to:
   * from the cache when active and fresh — then at once, not as a promise (the common case of
   * every request) — otherwise from `load`. A refusal (UnauthorizedError) is a rejected
   * promise, and cached briefly. `signal` lets this caller give up without cancelling a call
   * other callers share; it is asked for only when the cache cannot answer (an AbortSignal costs
   * microseconds to make).
   */
  authorize(
    credential: string,
    load: (signal: AbortSignal | undefined) => Promise<AuthorizationAnswer>,
    signal?: () => AbortSignal,
  ): AuthorizedUser | Promise<AuthorizedUser> {
    if (!this.isActive) {
      this.options.onEvent?.("bypass");
      return load(signal?.()).then(userOf);
    }
    const digest = credentialDigest(credential);
    const entry = this.lookup(digest);
    if (entry?.kind === "allowed") {
      this.options.onEvent?.("hit");
      return entry.user;
    }
    if (entry?.kind === "refused") {
      this.options.onEvent?.("negative_hit");
      return Promise.reject(new UnauthorizedError(entry.reason));
    }
    let shared = this.inflight.get(digest);
    // A call begun before a change may answer from before it: only requests from before share it.
    if (shared === undefined || shared.sinceChange !== this.changes) {
      this.options.onEvent?.("miss");
      shared = this.load(digest, load);
    } else {
      this.options.onEvent?.("shared");
    }
    return abandonable(shared.promise, signal?.()).then(userOf);
  }

  private load(digest: string, load: (signal: AbortSignal | undefined) => Promise<AuthorizationAnswer>): Inflight {
    const generation = this.generation;
    const since = this.changes;
    this.running.set(since, (this.running.get(since) ?? 0) + 1);
    // Stored only while this is the credential's current call: a call begun after a change may
    // have answered first (a refusal of a key revoked since), and an older answer must not
    // replace it.
    const current = (): boolean => this.inflight.get(digest) === call && this.generation === generation && this.isActive;
    const promise = load(undefined).then(
      (answer) => {
        if (current() && !this.changedSince(answer.user, since)) this.storeAllowed(digest, answer);
        return answer;
      },
      (err: unknown) => {
        // Any change may have turned this refusal into a success (a reactivated user, a new key).
        if (isUnauthorizedError(err) && current() && this.changes === since && this.negativeTtlMs > 0) {
          this.store(digest, { kind: "refused", reason: err.reason, expiresAt: this.clock.now() + this.negativeTtlMs });
        }
        throw err;
      },
    );
    const call: Inflight = { promise, sinceChange: since };
    this.inflight.set(digest, call);
    const settle = (): void => {
      if (this.inflight.get(digest) === call) this.inflight.delete(digest);
      const left = (this.running.get(since) ?? 1) - 1;
      if (left > 0) this.running.set(since, left);
      else this.running.delete(since);
    };
    promise.then(settle, settle);
    return call;
  }

  /** Whether a change to the answer's key or user came after the count `since`. */
  private changedSince(user: AuthorizedUser, since: number): boolean {
    return (this.apiKeyChanged.get(user.apiKeyId) ?? 0) > since || (this.userChanged.get(user.ownerId) ?? 0) > since;
  }

  /**
   * Counts a change to `id` and remembers it while a running load might predate it: only changes
   * after the oldest running load's start matter. Beyond maxRememberedChanges (a flood of
   * changes under a stalled control plane), it forgets those, and if half as many still matter,
   * all of them, and stores no running load's answer.
   */
  private noteChange(changed: Map<string, number>, id: string): void {
    this.changes += 1;
    changed.set(id, this.changes);
    if (this.running.size > 0 && this.rememberedChanges <= this.maxRememberedChanges) return;
    this.forgetSettledChanges();
    // Still more than half full: forget them all rather than scan again at the next change.
    if (this.rememberedChanges > this.maxRememberedChanges / 2) {
      this.generation += 1;
      this.apiKeyChanged.clear();
      this.userChanged.clear();
    }
  }

  /** Forgets the remembered changes no running load began before (all of them when none runs). */
  private forgetSettledChanges(): void {
    if (this.running.size === 0) {
      this.apiKeyChanged.clear();
      this.userChanged.clear();
      return;
    }
    let oldest = Number.POSITIVE_INFINITY;
    for (const since of this.running.keys()) oldest = Math.min(oldest, since);
    for (const map of [this.apiKeyChanged, this.userChanged]) {
      for (const [key, at] of map) if (at <= oldest) map.delete(key);
    }
  }

  private lookup(digest: string): Entry | undefined {
    const entry = this.entries.get(digest);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.clock.now()) {
      this.remove(digest, entry);
      return undefined;
    }
    // Most recently used last.
    this.entries.delete(digest);
    this.entries.set(digest, entry);
    return entry;
  }

  private storeAllowed(digest: string, answer: AuthorizationAnswer): void {
    const now = this.clock.now();
    const expiresAt = Math.min(now + this.ttlMs, answer.keyExpiresAtMs ?? Number.POSITIVE_INFINITY);
    if (expiresAt <= now) return;
    const { user } = answer;
    this.store(digest, { kind: "allowed", user, expiresAt });
    index(this.byApiKey, user.apiKeyId, digest);
    index(this.byUser, user.ownerId, digest);
  }

  private store(digest: string, entry: Entry): void {
    const previous = this.entries.get(digest);
    if (previous !== undefined) this.remove(digest, previous);
    this.entries.set(digest, entry);
    if (entry.kind === "refused") this.refused.add(digest);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.entries().next();
      if (oldest.done === true) break;
      this.remove(oldest.value[0], oldest.value[1]);
      this.options.onEvent?.("evict");
    }
  }

  private invalidate(digests: ReadonlySet<string> | undefined): void {
    // Any change may turn a refusal into a success (a reactivated user, a new key).
    const removed = (digests?.size ?? 0) + this.refused.size;
    for (const digest of [...(digests ?? []), ...this.refused]) {
      const entry = this.entries.get(digest);
      if (entry !== undefined) this.remove(digest, entry);
    }
    if (removed > 0) this.options.onEvent?.("invalidate");
  }

  private remove(digest: string, entry: Entry): void {
    this.entries.delete(digest);
    if (entry.kind === "refused") {
      this.refused.delete(digest);
      return;
    }
    unindex(this.byApiKey, entry.user.apiKeyId, digest);
    unindex(this.byUser, entry.user.ownerId, digest);
  }
}

function index(map: Map<string, Set<string>>, key: string, digest: string): void {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  set.add(digest);
}

function unindex(map: Map<string, Set<string>>, key: string, digest: string): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(digest);
  if (set.size === 0) map.delete(key);
}

/** Creates an AuthCache. */
export function createAuthCache(options: AuthCacheOptions = {}): AuthCache {
  return new AuthCache(options);
}
