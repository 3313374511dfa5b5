// RateLimiter alone, on a scripted clock: `limit` requests per key in each whole second, counts
// starting over at the next second, keys independent, refused requests not counted.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RateLimiter, rateLimitKey } from "./rate-limiter.js";

describe("RateLimiter", () => {
  it("allows `limit` requests per key in one second, refuses the rest until the next second", () => {
    let now = 1_700_000_000_250;
    const limiter = new RateLimiter(2, () => now);
    assert.deepEqual([limiter.take("a"), limiter.take("a"), limiter.take("b")], [0, 0, 0]);
    assert.equal(limiter.take("a"), 1);
    now += 740; // 990 ms into the same second
    assert.equal(limiter.take("a"), 1);
    assert.equal(limiter.take("b"), 0);
    assert.equal(limiter.take("b"), 1);
    now += 10; // the next second
    assert.deepEqual([limiter.take("a"), limiter.take("a"), limiter.take("a")], [0, 0, 1]);
  });

  // SECURITY: key ids are public; a token that spells one must not share its budget.
  it("counts delegated key ids and presented tokens apart", () => {
    assert.equal(rateLimitKey("abcdefghij", "ignored"), "delegated:abcdefghij");
    assert.equal(rateLimitKey(undefined, "abcdefghij-secret"), "token:abcdefghij-secret");
    assert.notEqual(rateLimitKey(undefined, "delegated:abcdefghij"), rateLimitKey("abcdefghij", undefined));
    assert.equal(rateLimitKey(undefined, undefined), undefined);
  });

  it("does not count refused requests against the next window", () => {
    let now = 5_000;
    const limiter = new RateLimiter(1, () => now);
    assert.equal(limiter.take("k"), 0);
    for (let i = 0; i < 100; i++) assert.equal(limiter.take("k"), 1);
    now = 6_000;
    assert.equal(limiter.take("k"), 0);
  });
});
