// ProviderKeyPool alone, on a scripted clock: the first usable key in order, refused keys cooling
// down (Retry-After for 429, 5 min for 401/403), no further key once every other one is refused;
// and keys replaced while requests run (a rotation), each key keeping its own cool-down.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProviderKeyPool, REJECTED_COOLDOWN_MS, isKeyRefusedStatus, retryAfterMs } from "./provider-key-pool.js";

describe("ProviderKeyPool", () => {
  it("uses the first key until it is refused, then the next, and the first again once it cooled down", () => {
    let now = 1_000;
    const pool = new ProviderKeyPool(["k1", "k2", "k3"], () => now);
    assert.equal(pool.pick(), "k1");
    pool.refused("k1", 429, 20_000);
    assert.equal(pool.pick(), "k2");
    assert.equal(pool.pick(new Set(["k1"])), "k2");
    assert.equal(pool.usable(), 2);
    now += 20_000;
    assert.equal(pool.pick(), "k1");
  });

  it("cools a rejected key (401, 403) for 5 minutes, a rate-limited one without Retry-After for 30 s", () => {
    let now = 0;
    const pool = new ProviderKeyPool(["k1", "k2"], () => now);
    pool.refused("k1", 403, undefined);
    pool.refused("k2", 429, undefined);
    now += 30_000;
    assert.equal(pool.pick(), "k2");
    now = REJECTED_COOLDOWN_MS - 1;
    assert.equal(pool.usable(), 1);
    now = REJECTED_COOLDOWN_MS;
    assert.equal(pool.pick(), "k1");
  });

  it("sends a first attempt with the key that comes back soonest when all cool, but gives up after a refusal", () => {
    const now = 0;
    const pool = new ProviderKeyPool(["k1", "k2"], () => now);
    pool.refused("k1", 429, 60_000);
    pool.refused("k2", 429, 10_000);
    assert.equal(pool.pick(), "k2");
    assert.equal(pool.pick(new Set(["k2"])), undefined);
    assert.equal(new ProviderKeyPool([], () => now).pick(), undefined);
  });

  it("undoes a refusal on request, unless a later one moved the key's cool-down", () => {
    let now = 0;
    const pool = new ProviderKeyPool(["k1", "k2"], () => now);
    const undo = pool.refused("k1", 429, 10_000);
    assert.equal(pool.pick(), "k2");
    undo();
    assert.equal(pool.pick(), "k1");
    const first = pool.refused("k1", 429, 10_000);
    now += 1;
    pool.refused("k1", 403, undefined);
    first();
    assert.equal(pool.pick(), "k2", "the later refusal still holds");
  });

  it("pauses failover for at most 30 s", () => {
    let now = 0;
    const pool = new ProviderKeyPool(["k1", "k2"], () => now);
    pool.pauseFailover(3_600_000);
    assert.equal(pool.failoverPaused, true);
    now = 29_999;
    assert.equal(pool.failoverPaused, true);
    now = 30_000;
    assert.equal(pool.failoverPaused, false);
    pool.pauseFailover(0);
    assert.equal(pool.failoverPaused, true, "Retry-After: 0 still pauses a second");
    now += 1_000;
    assert.equal(pool.failoverPaused, false);
  });

  it("bounds a provider's Retry-After to 5 minutes", () => {
    let now = 0;
    const pool = new ProviderKeyPool(["k1", "k2"], () => now);
    pool.refused("k1", 429, 86_400_000);
    now = 300_000;
    assert.equal(pool.pick(), "k1");
  });

  it("replaces its keys: kept ones keep their cool-down, new ones are usable at once, removed ones are never picked", () => {
    let now = 0;
    const pool = new ProviderKeyPool(["old", "kept"], () => now);
    pool.refused("old", 401, undefined);
    pool.refused("kept", 429, 60_000);
    assert.deepEqual(pool.replace(["kept", "new"]), { added: 1, removed: 1 });
    assert.deepEqual(pool.keys, ["kept", "new"]);
    assert.equal(pool.size, 2);
    assert.equal(pool.pick(), "new", "kept is still cooling; new is usable");
    assert.equal(pool.usable(), 1);
    now = 60_000;
    assert.equal(pool.pick(), "kept", "kept comes back when its own cool-down ends, first in the new order");
    assert.equal(pool.pick(new Set(["kept", "new"])), undefined, "old is gone");
    // A request still holding the removed key: its refusal cools nothing and undoes nothing.
    const undo = pool.refused("old", 401, undefined);
    undo();
    assert.equal(pool.usable(), 2);
    // Put back later, a removed key starts afresh, not with the cool-down it had.
    pool.replace(["old"]);
    assert.equal(pool.usable(), 1);
    assert.equal(pool.pick(new Set()), "old");
  });

  it("undoes a refusal made before a replacement only while the key's cool-down is the refusal's own", () => {
    const now = 0;
    const pool = new ProviderKeyPool(["k1", "k2"], () => now);
    const undo = pool.refused("k1", 429, 10_000);
    pool.replace(["k2", "k1"]);
    undo();
    assert.equal(pool.usable(), 2, "k1's cool-down, kept through the replacement, is undone");
    const undoAgain = pool.refused("k1", 429, 10_000);
    pool.replace(["k2"]);
    pool.replace(["k2", "k1"]);
    pool.refused("k1", 403, undefined);
    undoAgain();
    assert.equal(pool.usable(), 1, "the refusal made after k1 came back is not undone by the earlier one's undo");
  });

  it("lifts a failover pause when new keys come, not when keys only go", () => {
    const now = 0;
    const pool = new ProviderKeyPool(["k1", "k2", "k3"], () => now);
    pool.pauseFailover(10_000);
    pool.replace(["k1", "k2"]);
    assert.equal(pool.failoverPaused, true);
    pool.replace(["k1", "k4"]);
    assert.equal(pool.failoverPaused, false);
  });

  it("fails over on 401, 403 and 429 only, and reads Retry-After in seconds", () => {
    assert.deepEqual([400, 401, 402, 403, 404, 429, 500, 503].filter(isKeyRefusedStatus), [401, 403, 429]);
    assert.equal(retryAfterMs({ "retry-after": "17" }), 17_000);
    assert.equal(retryAfterMs({ "retry-after": "Wed, 21 Oct 2015 07:28:00 GMT" }), undefined);
    assert.equal(retryAfterMs({}), undefined);
  });
});
