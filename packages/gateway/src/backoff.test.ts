// Pins the backoff schedule: 50 ms doubling to a 10 s cap, jitter within bounds, reset.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Backoff } from "./index.js";

describe("Backoff", () => {
  it("doubles from 50 ms and caps at 10 s without jitter", () => {
    const b = new Backoff({ random: () => 0.5 });
    const got = Array.from({ length: 12 }, () => b.next());
    assert.deepEqual(got, [50, 100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000, 10_000]);
  });

  const jitterCases = [
    { name: "lowest random", random: 0, want: [40, 80, 160] },
    { name: "highest random", random: 0.999_999, want: [60, 120, 240] },
  ];
  for (const c of jitterCases) {
    it(`jitters by ±20% (${c.name})`, () => {
      const b = new Backoff({ random: () => c.random });
      assert.deepEqual([b.next(), b.next(), b.next()], c.want);
    });
  }

  it("never exceeds the cap with jitter", () => {
    const b = new Backoff({ random: () => 0.999_999 });
    for (let i = 0; i < 20; i++) assert.ok(b.next() <= 10_000);
  });

  it("reset starts over", () => {
    const b = new Backoff({ random: () => 0.5 });
    b.next();
    b.next();
    assert.equal(b.attempts, 2);
    b.reset();
    assert.equal(b.next(), 50);
  });
});
