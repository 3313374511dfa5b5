// Pins the per-user handler pool (reference TestPool, TestPool_Expiry): counts, keys, LRU,
// TTL not extended on hits, singleflight, failures, shutdown.

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
    assert.deepEqual(pool.stats(), { hits: 1, misses: 3, evictions: 2, expirations: 0, size: 1 });
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
    assert.deepEqual(pool.stats(), { hits: 2, misses: 3, evictions: 1, expirations: 0, size: 2 });
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
    assert.deepEqual(pool.stats(), { hits: 0, misses: 4, evictions: 0, expirations: 2, size: 2 });
    busy.delete("b");
    assert.equal(pool.sweep(clock.now()), 1, "b once its request ended");
    await clock.advance(30_000);
    assert.equal(pool.sweep(clock.now()), 1, "fresh once it expired");
    assert.equal(pool.stats().size, 0);
  });
});
