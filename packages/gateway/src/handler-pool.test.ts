// Pins the per-user handler pool (reference TestPool, TestPool_Expiry): counts, keys, LRU,
// TTL not extended on hits, singleflight, failures, shutdown, sweeps and revocations.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HandlerPool, PoolShuttingDownError, poolKey } from "./index.js";
import { FakeClock } from "./testing/index.js";

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
});
