// Pins the per-user handler pool (reference TestPool, TestPool_Expiry): counts, keys, LRU,
// TTL not extended on hits, singleflight, failures, shutdown, sweeps, revocations and the index
// of keys by user and API key they use.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { HandlerPool, PoolShuttingDownError, poolKey } from "./index.js";
import { FakeClock, flushMicrotasks } from "./testing/index.js";

const userA = "7b3f1c2e-0000-4000-8000-000000000001";
const userB = "7b3f1c2e-0000-4000-8000-000000000002";

function counting(): { build: (label: string) => () => Promise<{ label: string; n: number }>; built: () => number } {
  let n = 0;
  return {
    build: (label) => async () => ({ label, n: ++n }),
    built: () => n,
  };
}

describe("HandlerPool", () => {
  it("counts hits, misses and evictions with maxItems 1", async () => {
    const pool = new HandlerPool<{ label: string; n: number }>({ maxItems: 1 });
    const { build, built } = counting();
    const a1 = await pool.acquire(poolKey(userA, "key1"), build("a"));
    const a2 = await pool.acquire(poolKey(userA, "key1"), build("a"));
    assert.equal(a1, a2);
    const b = await pool.acquire(poolKey(userB, "key1"), build("b"));
    const a3 = await pool.acquire(poolKey(userA, "key1"), build("a"));
    assert.notEqual(a3, a1);
    assert.equal(b.label, "b");
    assert.equal(built(), 3);
    assert.deepEqual(pool.stats(), { hits: 1, misses: 3, evictions: 2, expirations: 0, revocations: 0, size: 1 });
  });

  it("builds a new instance for a different API key of the same user", async () => {
    const pool = new HandlerPool<{ label: string; n: number }>();
    const { build } = counting();
    const first = await pool.acquire(poolKey(userA, "key1"), build("a"));
    const second = await pool.acquire(poolKey(userA, "key2"), build("a"));
    assert.notEqual(first, second);
    assert.equal(pool.stats().size, 2);
  });

  it("evicts the least recently used entry", async () => {
    const pool = new HandlerPool<{ label: string; n: number }>({ maxItems: 2 });
    const { build } = counting();
    const a = await pool.acquire("a", build("a"));
    await pool.acquire("b", build("b"));
    assert.equal(await pool.acquire("a", build("a")), a); // a is now most recent
    await pool.acquire("c", build("c")); // evicts b
    assert.equal(await pool.acquire("a", build("a")), a);
    assert.deepEqual(pool.stats(), { hits: 2, misses: 3, evictions: 1, expirations: 0, revocations: 0, size: 2 });
  });

  it("expires entries after the TTL, and hits do not extend it", async () => {
    const clock = new FakeClock();
    const pool = new HandlerPool<{ label: string; n: number }>({ ttlMs: 60_000, clock });
    const { build, built } = counting();
    const first = await pool.acquire("a", build("a"));
    await clock.advance(59_999);
    assert.equal(await pool.acquire("a", build("a")), first);
    await clock.advance(1);
    const second = await pool.acquire("a", build("a"));
    assert.notEqual(second, first);
    assert.equal(built(), 2);
    assert.equal(pool.stats().expirations, 1);
  });

  it("collapses 10 concurrent misses into one construction", async () => {
    const pool = new HandlerPool<{ n: number }>();
    let constructions = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const build = async (): Promise<{ n: number }> => {
      constructions += 1;
      await gate;
      return { n: constructions };
    };
    const all = Promise.all(Array.from({ length: 10 }, () => pool.acquire("a", build)));
    release();
    const got = await all;
    assert.equal(constructions, 1);
    assert.ok(got.every((h) => h === got[0]));
  });

  it("does not cache a failed construction, and every waiter sees the failure", async () => {
    const pool = new HandlerPool<{ n: number }>();
    let attempts = 0;
    const failing = async (): Promise<{ n: number }> => {
      attempts += 1;
      throw new Error("boom");
    };
    const results = await Promise.allSettled([pool.acquire("a", failing), pool.acquire("a", failing)]);
    assert.deepEqual(
      results.map((r) => r.status),
      ["rejected", "rejected"],
    );
    assert.equal(attempts, 1);
    const ok = await pool.acquire("a", async () => ({ n: 7 }));
    assert.equal(ok.n, 7);
  });

  it("refuses acquires after shutdown with 'pool shutting down'", async () => {
    const pool = new HandlerPool<{ n: number }>();
    await pool.acquire("a", async () => ({ n: 1 }));
    pool.shutdown();
    assert.equal(pool.stats().size, 0);
    await assert.rejects(pool.acquire("a", async () => ({ n: 2 })), (err: unknown) => {
      assert.ok(err instanceof PoolShuttingDownError);
      assert.equal(err.message, "pool shutting down");
      return true;
    });
  });

  // Property: a sweep drops exactly the expired entries no request is using, and counts them as expirations.
  it("sweeps expired entries that are not in use, and keeps fresh and in-use ones", async () => {
    const clock = new FakeClock();
    const busy = new Set<string>();
    const removed: string[] = [];
    const pool = new HandlerPool<{ label: string }>({ ttlMs: 60_000, clock, inUse: (v) => busy.has(v.label), onRemove: (_v, key) => removed.push(key) });
    for (const label of ["a", "b", "c"]) await pool.acquire(label, async () => ({ label }));
    await clock.advance(30_000);
    await pool.acquire("fresh", async () => ({ label: "fresh" }));
    busy.add("b");
    assert.equal(pool.sweep(clock.now()), 0, "nothing expired yet");
    await clock.advance(30_000);
    assert.equal(pool.sweep(clock.now()), 2);
    assert.deepEqual(removed, ["a", "c"]);
    assert.deepEqual(pool.stats(), { hits: 0, misses: 4, evictions: 0, expirations: 2, revocations: 0, size: 2 });
    busy.delete("b");
    assert.equal(pool.sweep(clock.now()), 1, "b once its request ended");
    await clock.advance(30_000);
    assert.equal(pool.sweep(clock.now()), 1, "fresh once it expired");
    assert.equal(pool.stats().size, 0);
  });

  describe("revocation", () => {
    const userC = "7b3f1c2e-0000-4000-8000-000000000003";
    const keys = [poolKey(userA, "key1"), poolKey(userA, "key2"), poolKey(userB, "key3"), poolKey(userC, "key1x")];

    /** A pool holding one entry per key of `keys` (`values`), recording what leaves it and its revoke events. */
    async function filled(busy: ReadonlySet<string> = new Set()) {
      const removed: string[] = [];
      const events: string[] = [];
      const values = new Map<string, { key: string }>();
      const pool = new HandlerPool<{ key: string }>({
        inUse: (v) => busy.has(v.key),
        onRemove: (_v, key) => removed.push(key),
        onEvent: (event) => {
          if (event === "revoke") events.push(event);
        },
      });
      for (const key of keys) {
        const value = { key };
        values.set(key, value);
        await pool.acquire(key, async () => value);
      }
      return { pool, removed, events, values };
    }

    // Property: each revocation drops exactly the entries of its API key, user, or all, and counts them.
    const cases = [
      { name: "an API key drops that key's handler only", revoke: (p: HandlerPool<{ key: string }>) => p.revokeApiKey("key1"), want: [keys[0]] },
      { name: "an API key matches the whole id, not a suffix of another", revoke: (p: HandlerPool<{ key: string }>) => p.revokeApiKey("1x"), want: [] },
      { name: "a user drops every key of that user", revoke: (p: HandlerPool<{ key: string }>) => p.revokeUser(userA), want: [keys[0], keys[1]] },
      { name: "an unknown user drops nothing", revoke: (p: HandlerPool<{ key: string }>) => p.revokeUser("7b3f1c2e-0000-4000-8000-00000000000f"), want: [] },
      { name: "all drops every handler", revoke: (p: HandlerPool<{ key: string }>) => p.revokeAll(), want: keys },
    ];
    for (const c of cases) {
      it(`revoking ${c.name}`, async () => {
        const { pool, removed, events } = await filled();
        c.revoke(pool);
        assert.deepEqual(removed, c.want);
        assert.equal(events.length, c.want.length);
        assert.deepEqual(pool.stats(), { hits: 0, misses: 4, evictions: 0, expirations: 0, revocations: c.want.length, size: keys.length - c.want.length });
      });
    }

    // Property: with several users of several keys pooled (one API key id shared by two users,
    // one user id reused as another user's API key id), a revocation drops exactly its handlers.
    describe("among several users and keys", () => {
      const users = [userA, userB, userC];
      const pooled = [
        ...users.flatMap((user, u) => [1, 2, 3].map((k) => poolKey(user, `u${u}-key${k}`))),
        poolKey(userA, "shared"),
        poolKey(userB, "shared"),
        poolKey(userC, userA),
        "plain",
      ];
      const cases = [
        { name: "a user with three keys", revoke: (p: HandlerPool<string>) => p.revokeUser(userB), want: [poolKey(userB, "u1-key1"), poolKey(userB, "u1-key2"), poolKey(userB, "u1-key3"), poolKey(userB, "shared")] },
        { name: "a user id that is also another user's API key id", revoke: (p: HandlerPool<string>) => p.revokeUser(userA), want: [poolKey(userA, "u0-key1"), poolKey(userA, "u0-key2"), poolKey(userA, "u0-key3"), poolKey(userA, "shared")] },
        { name: "an API key id that is also a user id", revoke: (p: HandlerPool<string>) => p.revokeApiKey(userA), want: [poolKey(userC, userA)] },
        { name: "one API key of a user with three", revoke: (p: HandlerPool<string>) => p.revokeApiKey("u2-key2"), want: [poolKey(userC, "u2-key2")] },
        { name: "an API key id two users' keys share", revoke: (p: HandlerPool<string>) => p.revokeApiKey("shared"), want: [poolKey(userA, "shared"), poolKey(userB, "shared")] },
        { name: "a key without a user, by its text", revoke: (p: HandlerPool<string>) => p.revokeApiKey("plain"), want: [] },
      ];
      for (const c of cases) {
        it(`revoking ${c.name}`, async () => {
          const removed: string[] = [];
          const pool = new HandlerPool<string>({ onRemove: (_v, key) => removed.push(key) });
          for (const key of pooled) await pool.acquire(key, async () => key);
          c.revoke(pool);
          assert.deepEqual(removed.sort(), [...c.want].sort());
          // The others are still pooled: each is a hit, not a new build.
          for (const key of pooled.filter((k) => !c.want.includes(k))) assert.equal(await pool.acquire(key, async () => "rebuilt"), key);
          // Revoked keys build afresh, and revoking them again drops the fresh handlers.
          for (const key of c.want) assert.equal(await pool.acquire(key, async () => `${key} again`), `${key} again`);
          removed.length = 0;
          c.revoke(pool);
          assert.deepEqual(removed.sort(), [...c.want].sort());
          assert.equal(pool.stats().size, pooled.length - c.want.length);
        });
      }
    });

    // Property: a revoked key's next acquire builds a fresh handler (the old one is not handed out again).
    it("builds a revoked key's handler afresh on its next acquire", async () => {
      const pool = new HandlerPool<{ n: number }>();
      const first = await pool.acquire(poolKey(userA, "key1"), async () => ({ n: 1 }));
      pool.revokeApiKey("key1");
      const second = await pool.acquire(poolKey(userA, "key1"), async () => ({ n: 2 }));
      assert.notEqual(second, first);
      assert.equal(second.n, 2);
    });

    // Property: a handler serving a request is kept (not handed to onRemove) until released after its last request.
    it("keeps a revoked handler that serves a request until it is released", async () => {
      const busy = new Set([keys[0]!, keys[1]!]);
      const { pool, removed, values } = await filled(busy);
      pool.revokeUser(userA);
      assert.deepEqual(removed, [], "both of the user's handlers are serving");
      assert.equal(pool.stats().size, 4, "still held while they serve");
      // No longer handed out: the key's next request gets a new handler.
      const fresh = await pool.acquire(keys[0]!, async () => ({ key: "fresh" }));
      assert.notEqual(fresh, values.get(keys[0]!));
      assert.equal(pool.stats().size, 5);
      pool.release(fresh);
      assert.deepEqual(removed, [], "releasing a handler that was not revoked does nothing");
      // Its last request ended: it leaves at once.
      busy.delete(keys[0]!);
      pool.release(values.get(keys[0]!)!);
      assert.deepEqual(removed, [keys[0]]);
      assert.deepEqual(pool.stats(), { hits: 0, misses: 5, evictions: 0, expirations: 0, revocations: 1, size: 4 });
      // Released while another request still runs on it: kept; the idle sweep drops it once it is idle.
      pool.release(values.get(keys[1]!)!);
      assert.deepEqual(removed, [keys[0]]);
      busy.delete(keys[1]!);
      assert.equal(pool.sweep(0), 1);
      assert.deepEqual(removed, [keys[0], keys[1]]);
      assert.deepEqual(pool.stats(), { hits: 0, misses: 5, evictions: 0, expirations: 0, revocations: 2, size: 3 });
    });

    // Property: clear() hands every value to onRemove at once and once — idle, serving a request,
    // or revoked and kept for its request — without counting revocations; a later release does nothing.
    it("clears idle, serving and retiring handlers at once", async () => {
      const busy = new Set([keys[0]!, keys[2]!]);
      const { pool, removed, values } = await filled(busy);
      pool.revokeApiKey("key1");
      assert.deepEqual(removed, [], "key1 serves a request: kept");
      pool.clear();
      assert.deepEqual([...removed].sort(), [...keys].sort());
      assert.deepEqual(pool.stats(), { hits: 0, misses: 4, evictions: 0, expirations: 0, revocations: 0, size: 0 });
      busy.clear();
      pool.release(values.get(keys[0]!)!);
      assert.equal(removed.length, keys.length);
      assert.equal(pool.sweep(Number.MAX_SAFE_INTEGER), 0);
    });

    // Property: a value built while its key was revoked goes to the callers that asked before, never into the pool.
    it("hands a build in flight during a revocation to its callers without caching it", async () => {
      const pool = new HandlerPool<{ n: number }>();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const early = pool.acquire(poolKey(userA, "key1"), async () => {
        await gate;
        return { n: 1 };
      });
      pool.revokeUser(userA);
      // Asked after the revocation: does not join the build that began before it.
      const late = pool.acquire(poolKey(userA, "key1"), async () => ({ n: 2 }));
      release();
      assert.equal((await early).n, 1);
      assert.equal((await late).n, 2);
      assert.equal((await pool.acquire(poolKey(userA, "key1"), async () => ({ n: 3 }))).n, 2, "the later build is the one cached");
      assert.equal(pool.stats().size, 1);
    });
  });

  // Property: after any sequence of acquires (hits, misses, joined and failed builds), expiries,
  // sweeps, evictions, revocations, releases and clears, the user and API key index holds
  // exactly the keys of the entries and builds in flight; and each revocation drops exactly the
  // idle handlers of its user or key (by the key's text, as the pool matched before the index)
  // and keeps the busy ones until released. With room for one entry, builds finishing in one
  // turn evict each other before their keys leave the builds in flight.
  for (const maxItems of [6, 1]) it(`keeps its user and API key index exact through a seeded sequence of mixed operations (maxItems ${maxItems})`, async () => {
    const random = mulberry32(20261204);
    const pick = <X>(xs: readonly X[]): X => xs[Math.floor(random() * xs.length)]!;
    const users = [userA, userB, "7b3f1c2e-0000-4000-8000-000000000003", "7b3f1c2e-0000-4000-8000-000000000004"];
    const apiKeyIds = ["k1", "k2", "k3", "shared"];
    const keys = [...users.flatMap((user) => apiKeyIds.map((id) => poolKey(user, id === "shared" ? id : `${user.slice(-1)}-${id}`))), "plain"];
    type Value = { readonly key: string };
    const clock = new FakeClock();
    const busy = new Set<Value>();
    /** Values built and not yet handed to onRemove, and whether the pool keeps them only until released. */
    const live = new Map<Value, { retiring: boolean }>();
    let removedNow: Value[] = [];
    const faults: string[] = [];
    let keptBusy = 0;
    let retiredOnRelease = 0;
    const pool = new HandlerPool<Value>({
      maxItems,
      ttlMs: 60_000,
      clock,
      inUse: (v) => busy.has(v),
      // Noted, not thrown: a throw here inside a build's callback would only fail that build.
      onRemove: (v) => {
        if (!live.delete(v)) faults.push(`${v.key} left twice`);
        removedNow.push(v);
        // Exact here too, in the middle of a call or of a turn of builds finishing.
        const { indexed, scanned } = pool.indexAgainstScan();
        if (!isDeepStrictEqual(indexed, scanned)) faults.push(`index as ${v.key} left: ${JSON.stringify({ indexed, scanned })}`);
      },
    });
    const pending: { resolve: () => void; reject: (err: Error) => void }[] = [];
    const build = (key: string, gated: boolean) => async (): Promise<Value> => {
      if (gated) await new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
      const value = { key };
      live.set(value, { retiring: false });
      return value;
    };
    /** Asserts a revocation dropped the idle pooled values `matches` and keeps the busy ones until released. */
    const revoked = (matches: (key: string) => boolean, revoke: () => void): void => {
      const hit = [...live].filter(([v, state]) => !state.retiring && matches(v.key)).map(([v]) => v);
      revoke();
      assert.deepEqual(new Set(removedNow), new Set(hit.filter((v) => !busy.has(v))));
      for (const v of hit) {
        if (!busy.has(v)) continue;
        live.set(v, { retiring: true });
        keptBusy += 1;
      }
    };
    const acquire = (gated: boolean): void => {
      const key = pick(keys);
      pool.acquire(key, build(key, gated)).catch(() => {});
    };
    const ops: [weight: number, run: () => void | Promise<void>][] = [
      [30, () => acquire(false)],
      [10, () => acquire(true)],
      [10, () => {
        const settling = pending.splice(Math.floor(random() * pending.length), 1)[0];
        if (random() < 0.8) settling?.resolve();
        else settling?.reject(new Error("build failed"));
      }],
      [2, () => {
        for (const settling of pending.splice(0)) settling.resolve();
      }],
      [5, () => clock.advance(Math.floor(random() * 50_000))],
      [4, () => assert.equal(pool.sweep(clock.now()), removedNow.length)],
      [8, () => {
        const idle = [...live.keys()].filter((v) => !busy.has(v));
        if (idle.length > 0) busy.add(pick(idle));
      }],
      [8, () => {
        if (busy.size === 0) return;
        const value = pick([...busy]);
        busy.delete(value);
        const retiring = live.get(value)?.retiring === true;
        pool.release(value);
        assert.deepEqual(removedNow, retiring ? [value] : []);
        if (retiring) retiredOnRelease += 1;
      }],
      [5, () => {
        const user = pick([...users, "7b3f1c2e-0000-4000-8000-00000000000f"]);
        revoked((key) => key.startsWith(`${user}|`), () => pool.revokeUser(user));
      }],
      [5, () => {
        const apiKeyId = pick([...keys.map((k) => k.slice(k.indexOf("|") + 1)), "plain"]);
        revoked((key) => key.endsWith(`|${apiKeyId}`), () => pool.revokeApiKey(apiKeyId));
      }],
      [1, () => revoked(() => true, () => pool.revokeAll())],
      [1, () => {
        const all = [...live.keys()];
        pool.clear();
        assert.deepEqual(new Set(removedNow), new Set(all));
      }],
    ];
    const totalWeight = ops.reduce((sum, [w]) => sum + w, 0);
    for (let step = 0; step < 3000; step++) {
      removedNow = [];
      let roll = random() * totalWeight;
      const op = ops.find(([w]) => (roll -= w) < 0)![1];
      await op();
      // Builds, their failures and the clock's advance finish on promise callbacks.
      await flushMicrotasks(1);
      const { indexed, scanned } = pool.indexAgainstScan();
      assert.deepEqual(indexed, scanned, `index after step ${step}`);
      assert.deepEqual(faults, [], `during step ${step}`);
      assert.equal(pool.stats().size, live.size, `size after step ${step}`);
    }
    // The sequence took every way out of the pool.
    const stats = pool.stats();
    for (const counter of ["hits", "misses", "evictions", "expirations", "revocations"] as const) assert.ok(stats[counter] > 0, counter);
    assert.ok(keptBusy > 0 && retiredOnRelease > 0, "revoked while busy, then released");
  });
});

/** A seeded pseudo-random number generator (mulberry32): the same sequence on every run. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
