// Pins the IsAuthorized cache on a fake clock: bypass while inactive, TTL (and the key's own
// expiry), the short negative TTL, the LRU bound, invalidation by API key id and user id (and of
// every refusal), singleflight with per-caller abandonment, answers racing an invalidation not
// stored, and only digests of credentials kept.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AuthCache, ControlPlaneUnavailableError, UnauthorizedError, credentialDigest } from "./index.js";
import type { AuthCacheEvent, AuthorizationAnswer, AuthorizedUser } from "./index.js";
import { FakeClock, flushMicrotasks } from "./testing/index.js";

const alice: AuthorizedUser = { ownerId: "00000000-0000-4000-8000-00000000000a", apiKeyId: "aliceKey01", username: "alice" };
const alice2: AuthorizedUser = { ...alice, apiKeyId: "aliceKey02" };
const bob: AuthorizedUser = { ownerId: "00000000-0000-4000-8000-00000000000b", apiKeyId: "bobKey0001", username: "bob" };

/** A scriptable IsAuthorized: answers per credential, counts calls, can hold them. */
function authorizer(answers: Record<string, AuthorizedUser | string>): {
  load: (credential: string) => () => Promise<AuthorizationAnswer>;
  calls: string[];
  expiresAt: Map<string, number>;
  hold: () => () => void;
} {
  const calls: string[] = [];
  const expiresAt = new Map<string, number>();
  let gate: Promise<void> | undefined;
  return {
    calls,
    expiresAt,
    hold: () => {
      let release!: () => void;
      gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      return () => {
        gate = undefined;
        release();
      };
    },
    load: (credential) => async () => {
      calls.push(credential);
      if (gate !== undefined) await gate;
      const answer = answers[credential];
      if (answer === undefined) throw new Error("control plane down");
      if (typeof answer === "string") throw new UnauthorizedError(answer);
      return { user: answer, keyExpiresAtMs: expiresAt.get(credential) };
    },
  };
}

function setup(options: { maxEntries?: number; ttlMs?: number; negativeTtlMs?: number } = {}) {
  const clock = new FakeClock();
  const events: AuthCacheEvent[] = [];
  const cache = new AuthCache({ ...options, clock, onEvent: (e) => events.push(e) });
  const cp = authorizer({ "key-a": alice, "key-a2": alice2, "key-b": bob, "key-bad": "unknown_key" });
  /** What authorize() answers, as it answers it: the user at once from the cache, else a promise. */
  const answer = (credential: string, signal?: AbortSignal) => cache.authorize(credential, cp.load(credential), signal && (() => signal));
  const authorize = (credential: string, signal?: AbortSignal): Promise<AuthorizedUser> => Promise.resolve(answer(credential, signal));
  return { clock, cache, cp, events, answer, authorize };
}

describe("AuthCache", () => {
  // Property: without a watch stream nothing is cached: every request asks.
  it("asks every time while inactive", async () => {
    const { cache, cp, authorize, events } = setup();
    assert.equal(cache.active, false);
    await authorize("key-a");
    await authorize("key-a");
    assert.deepEqual(cp.calls, ["key-a", "key-a"]);
    assert.equal(cache.size, 0);
    assert.deepEqual(events, ["bypass", "bypass"]);
  });

  // The request path takes a cached answer without a promise; everything else is one.
  it("answers a fresh allowed answer at once, and anything else as a promise", async () => {
    const { cache, cp, clock, answer, events } = setup({ ttlMs: 60_000 });
    const promised = async (a: AuthorizedUser | Promise<AuthorizedUser>, why: string): Promise<unknown> => {
      assert.ok(a instanceof Promise, why);
      return a.catch((err: unknown) => err);
    };
    assert.deepEqual(await promised(answer("key-a"), "inactive"), alice);
    cache.activate();
    assert.deepEqual(await promised(answer("key-a"), "not fetched yet"), alice);
    assert.ok((await promised(answer("key-bad"), "a refusal")) instanceof UnauthorizedError);
    assert.deepEqual(answer("key-a"), alice);
    assert.ok((await promised(answer("key-bad"), "a cached refusal")) instanceof UnauthorizedError);
    cache.invalidateApiKey(alice.apiKeyId);
    assert.deepEqual(await promised(answer("key-a"), "invalidated"), alice);
    await clock.advance(60_000);
    assert.deepEqual(await promised(answer("key-a"), "expired"), alice);
    assert.deepEqual(cp.calls, ["key-a", "key-a", "key-bad", "key-a", "key-a"]);
    assert.deepEqual(events, ["bypass", "miss", "miss", "hit", "negative_hit", "invalidate", "miss", "miss"]);
  });

  it("answers from the cache until ttlMs after the answer, then asks again", async () => {
    const { cache, cp, clock, authorize } = setup({ ttlMs: 60_000 });
    cache.activate();
    assert.deepEqual(await authorize("key-a"), alice);
    await clock.advance(59_999);
    assert.deepEqual(await authorize("key-a"), alice);
    assert.equal(cp.calls.length, 1);
    await clock.advance(1);
    await authorize("key-a");
    assert.equal(cp.calls.length, 2);
  });

  // Property: an answer is never used at or after the key's own expiry.
  it("does not outlive the key's expiry", async () => {
    const { cache, cp, clock, authorize } = setup({ ttlMs: 60_000 });
    cache.activate();
    cp.expiresAt.set("key-a", clock.now() + 10_000);
    await authorize("key-a");
    await clock.advance(9_999);
    await authorize("key-a");
    assert.equal(cp.calls.length, 1);
    await clock.advance(1);
    await authorize("key-a");
    assert.equal(cp.calls.length, 2);
  });

  it("caches a refusal only negativeTtlMs", async () => {
    const { cache, cp, clock, authorize, events } = setup({ negativeTtlMs: 5_000 });
    cache.activate();
    for (let i = 0; i < 3; i++) await assert.rejects(authorize("key-bad"), (e: unknown) => e instanceof UnauthorizedError && e.reason === "unknown_key");
    assert.equal(cp.calls.length, 1);
    assert.deepEqual(events, ["miss", "negative_hit", "negative_hit"]);
    await clock.advance(5_000);
    await assert.rejects(authorize("key-bad"));
    assert.equal(cp.calls.length, 2);
  });

  it("never caches a failure that is not a refusal", async () => {
    const { cache, cp, authorize } = setup();
    cache.activate();
    await assert.rejects(authorize("key-down"), /control plane down/);
    await assert.rejects(authorize("key-down"), /control plane down/);
    assert.equal(cp.calls.length, 2);
  });

  it("keeps at most maxEntries, evicting the least recently used", async () => {
    const { cache, cp, authorize, events } = setup({ maxEntries: 2 });
    cache.activate();
    await authorize("key-a");
    await authorize("key-b");
    await authorize("key-a"); // a is now the most recently used
    await authorize("key-a2"); // evicts b
    assert.equal(cache.size, 2);
    assert.equal(events.filter((e) => e === "evict").length, 1);
    await authorize("key-a");
    await authorize("key-b");
    assert.deepEqual(cp.calls, ["key-a", "key-b", "key-a2", "key-b"]);
  });

  const invalidations = [
    { name: "by API key id: only that key", invalidate: (c: AuthCache) => c.invalidateApiKey(alice.apiKeyId), asked: ["key-a"] },
    { name: "by user id: every key of that user", invalidate: (c: AuthCache) => c.invalidateUser(alice.ownerId), asked: ["key-a", "key-a2"] },
    { name: "of another user: nothing", invalidate: (c: AuthCache) => c.invalidateUser("00000000-0000-4000-8000-0000000000ff"), asked: [] },
    { name: "by a reset: everything", invalidate: (c: AuthCache) => c.clear(), asked: ["key-a", "key-a2", "key-b"] },
  ];
  for (const c of invalidations) {
    it(`invalidates ${c.name}`, async () => {
      const { cache, cp, authorize } = setup();
      cache.activate();
      for (const k of ["key-a", "key-a2", "key-b"]) await authorize(k);
      cp.calls.length = 0;
      c.invalidate(cache);
      for (const k of ["key-a", "key-a2", "key-b"]) await authorize(k);
      assert.deepEqual(cp.calls, c.asked);
    });
  }

  // Property: a pushed change can turn a refusal into a success (a reactivated user): every
  // change forgets every cached refusal.
  it("forgets every refusal on any change", async () => {
    const { cache, cp, authorize } = setup();
    cache.activate();
    await assert.rejects(authorize("key-bad"));
    cache.invalidateApiKey("someOtherK");
    await assert.rejects(authorize("key-bad"));
    assert.equal(cp.calls.length, 2);
  });

  it("forgets everything and stops caching when deactivated", async () => {
    const { cache, cp, authorize } = setup();
    cache.activate();
    await authorize("key-a");
    cache.deactivate();
    assert.equal(cache.size, 0);
    await authorize("key-a");
    await authorize("key-a");
    assert.equal(cp.calls.length, 3);
  });

  // Property: concurrent misses for one credential make ONE call.
  it("collapses concurrent misses into one call", async () => {
    const { cache, cp, authorize, events } = setup();
    cache.activate();
    const release = cp.hold();
    const waiting = [authorize("key-a"), authorize("key-a"), authorize("key-a"), authorize("key-b")];
    await flushMicrotasks();
    assert.deepEqual(cp.calls, ["key-a", "key-b"]);
    release();
    assert.deepEqual(await Promise.all(waiting), [alice, alice, alice, bob]);
    assert.deepEqual(events.filter((e) => e === "shared").length, 2);
  });

  it("lets one waiter give up without failing the others", async () => {
    const { cache, cp, authorize } = setup();
    cache.activate();
    const release = cp.hold();
    const gone = new AbortController();
    const first = authorize("key-a", gone.signal);
    const second = authorize("key-a");
    await flushMicrotasks();
    gone.abort(new Error("client went away"));
    await assert.rejects(first, (e: unknown) => e instanceof ControlPlaneUnavailableError);
    release();
    assert.deepEqual(await second, alice);
    assert.equal(cp.calls.length, 1);
  });

  // Property: an answer fetched while a change arrived may predate it: handed out, not stored;
  // and a request after the change does not join the call that started before it.
  it("does not store an answer that raced an invalidation", async () => {
    const { cache, cp, authorize } = setup();
    cache.activate();
    const release = cp.hold();
    const before = authorize("key-a");
    await flushMicrotasks();
    cache.invalidateApiKey(alice.apiKeyId);
    const after = authorize("key-a");
    await flushMicrotasks();
    assert.equal(cp.calls.length, 2, "the request after the change asked again");
    release();
    await Promise.all([before, after]);
    await authorize("key-a");
    assert.equal(cp.calls.length, 2, "the answer fetched after the change is cached");
    assert.equal(cache.size, 1);
  });

  // Property: changes to OTHER keys and users do not stop an answer being stored. With one global
  // counter, a control plane slower than the gap between any admin changes got nothing stored.
  it("stores an answer fetched while other keys and users changed", async () => {
    const { cache, cp, authorize, answer, events } = setup();
    cache.activate();
    const release = cp.hold();
    const pending = authorize("key-a");
    await flushMicrotasks();
    cache.invalidateApiKey(bob.apiKeyId);
    cache.invalidateUser(bob.ownerId);
    cache.invalidateApiKey(alice2.apiKeyId); // alice's other key: not this answer's
    release();
    assert.deepEqual(await pending, alice);
    assert.deepEqual(answer("key-a"), alice, "stored: answered at once");
    assert.equal(cp.calls.length, 1);
    assert.deepEqual(events.filter((e) => e === "hit").length, 1);
  });

  it("does not store an answer fetched while its user changed, nor a refusal fetched during any change", async () => {
    const { cache, cp, authorize } = setup();
    cache.activate();
    const release = cp.hold();
    const allowed = authorize("key-a");
    const refused = authorize("key-bad");
    await flushMicrotasks();
    cache.invalidateUser(alice.ownerId);
    cache.invalidateApiKey(bob.apiKeyId);
    release();
    assert.deepEqual(await allowed, alice);
    await assert.rejects(refused, (e: unknown) => e instanceof UnauthorizedError);
    assert.equal(cache.size, 0);
    await authorize("key-a");
    await assert.rejects(authorize("key-bad"));
    assert.equal(cp.calls.length, 4, "both asked again");
  });

  // Property (SECURITY): an answer from a call begun before a change never replaces what a call
  // begun after it stored. Here key-a is revoked between the two calls, before its push arrives:
  // the newer call's refusal is stored, then the older call's "allowed" lands.
  it("does not let an older call's answer replace a newer call's", async () => {
    const { cache, answer } = setup();
    cache.activate();
    let answerOld!: (a: AuthorizationAnswer) => void;
    const old = cache.authorize("key-a", () => new Promise<AuthorizationAnswer>((resolve) => (answerOld = resolve)));
    await flushMicrotasks();
    cache.invalidateUser(bob.ownerId); // unrelated: later requests start a call of their own
    const refused = cache.authorize("key-a", async () => {
      throw new UnauthorizedError("unknown_key");
    });
    await assert.rejects(Promise.resolve(refused), (e: unknown) => e instanceof UnauthorizedError);
    answerOld({ user: alice, keyExpiresAtMs: undefined });
    assert.deepEqual(await old, alice);
    const now = answer("key-a");
    assert.ok(now instanceof Promise, "not answered from the cache as allowed");
    await assert.rejects(now, (e: unknown) => e instanceof UnauthorizedError && e.reason === "unknown_key");
  });

  // Property: what is remembered for running calls is bounded; past the bound, running calls'
  // answers are not stored (safe), and later ones are again.
  it("remembers a bounded number of changes while a call runs", async () => {
    const { cache, cp, authorize } = setup();
    cache.activate();
    const release = cp.hold();
    const pending = authorize("key-a");
    await flushMicrotasks();
    for (let i = 0; i < 10_050; i++) cache.invalidateApiKey(`other-${i}`);
    const remembered = cache as unknown as { apiKeyChanged: Map<string, number>; userChanged: Map<string, number> };
    assert.ok(remembered.apiKeyChanged.size + remembered.userChanged.size <= 10_000, String(remembered.apiKeyChanged.size));
    release();
    await pending;
    assert.equal(cache.size, 0, "not stored: its changes were forgotten");
    cache.invalidateApiKey("once-idle");
    assert.equal(remembered.apiKeyChanged.size, 0, "nothing running: nothing remembered");
    await authorize("key-a");
    await authorize("key-a");
    assert.equal(cp.calls.length, 2, "stored again once the flood is over");
  });

  // Property: a sweep drops exactly the answers past their expiry (allowed and refused) and keeps valid ones.
  it("sweeps expired answers and keeps the ones still valid", async () => {
    const { clock, cache, cp, authorize } = setup({ ttlMs: 60_000, negativeTtlMs: 5_000 });
    cache.activate();
    await authorize("key-a");
    await assert.rejects(authorize("key-bad"));
    await clock.advance(30_000);
    await authorize("key-b");
    assert.equal(cache.size, 3);
    assert.equal(cache.sweep(clock.now()), 1, "the refusal");
    await clock.advance(30_000);
    assert.equal(cache.sweep(clock.now()), 1, "alice's answer");
    assert.equal(cache.size, 1);
    assert.equal(await authorize("key-b"), bob);
    assert.equal(cp.calls.filter((c) => c === "key-b").length, 1, "bob still answered from the cache");
  });

  // Property: a sweep forgets remembered changes older than every running call, and keeps the
  // ones a running call may predate (so its answer is still not stored).
  it("sweeps remembered changes no running call predates", async () => {
    const { clock, cache, cp, authorize } = setup();
    cache.activate();
    const release = cp.hold();
    const first = authorize("key-a");
    await flushMicrotasks();
    cache.invalidateApiKey("other-1");
    cache.invalidateUser(bob.ownerId);
    assert.equal(cache.rememberedChanges, 2);
    assert.equal(cache.sweep(clock.now()), 0, "the running call began before both");
    release();
    await first;
    assert.equal(cache.rememberedChanges, 2, "kept until a sweep or the next change");
    const release2 = cp.hold();
    const second = authorize("key-b");
    await flushMicrotasks();
    cache.invalidateApiKey(alice.apiKeyId);
    assert.equal(cache.rememberedChanges, 3);
    assert.equal(cache.sweep(clock.now()), 2, "the two changes before the running call began");
    assert.equal(cache.rememberedChanges, 1);
    release2();
    assert.deepEqual(await second, bob);
    assert.equal(cache.sweep(clock.now()), 1, "nothing running: nothing to remember");
    assert.equal(cache.rememberedChanges, 0);
  });

  // Property (SECURITY): credentials are kept only as digests.
  it("keys entries by a digest, never the credential", async () => {
    const { cache, authorize } = setup();
    cache.activate();
    await authorize("key-a");
    const keys = [...(cache as unknown as { entries: Map<string, unknown> }).entries.keys()];
    assert.deepEqual(keys, [credentialDigest("key-a")]);
    assert.ok(!keys.includes("key-a"));
  });
});
