import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { uuidv7 } from "./uuid7.js";

const FORMAT = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("uuidv7", () => {
  it("carries the millisecond timestamp in its first 48 bits, then version 7 and the RFC 9562 variant", () => {
    const at = Date.UTC(2026, 11, 2, 16, 33, 51, 123);
    const id = uuidv7(at);
    assert.match(id, FORMAT);
    assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), at);
  });

  it("encodes the edges of the 48-bit range", () => {
    assert.equal(uuidv7(-5).slice(0, 13), "00000000-0000");
    assert.equal(uuidv7(0).slice(0, 13), "00000000-0000");
    assert.equal(uuidv7(0xffff_ffff_ffff).slice(0, 13), "ffffffff-ffff");
    assert.equal(uuidv7(1.9).slice(0, 13), "00000000-0001", "fractions of a millisecond are dropped");
    assert.equal(uuidv7(2 ** 50).slice(0, 13), "ffffffff-ffff");
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) assert.match(uuidv7(bad), FORMAT);
  });

  it("never repeats, across many refills of its random pool, even within one millisecond", () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const id = uuidv7(1_700_000_000_000);
      assert.match(id, FORMAT);
      ids.add(id);
    }
    assert.equal(ids.size, 20_000);
    // 62 random bits each: every hex digit of the random part takes many values.
    const lastDigits = new Set([...ids].map((id) => id.at(-1)));
    assert.equal(lastDigits.size, 16);
  });

  // The text is written into one buffer and read out per id: a digit left unwritten would
  // repeat the previous id's there.
  it("writes every digit of every id afresh: each position takes many values across ids of random times", () => {
    const ids = Array.from({ length: 2_000 }, () => uuidv7(Math.floor(Math.random() * 0xffff_ffff_ffff)));
    const digits = (id: string): string => id.replaceAll("-", "");
    for (let at = 0; at < 32; at++) {
      const seen = new Set(ids.map((id) => digits(id)[at]));
      // Position 12 is the version (always 7), 13 the top of a new millisecond's counter (it
      // starts below 2048: 0-7), 16 the variant (8, 9, a or b).
      const least = at === 12 ? 1 : at === 13 ? 8 : at === 16 ? 4 : 16;
      assert.equal(seen.size, least, `digit ${at}: ${[...seen].sort().join("")}`);
    }
    for (const id of ids) assert.match(id, FORMAT);
  });

  it("sorts (as text, as Postgres sorts uuid) by the time it was made", () => {
    const times = [1, 255, 256, 65_535, 65_536, 1_700_000_000_000, 1_700_000_000_001, 2 ** 41];
    const ids = times.map((t) => uuidv7(t));
    assert.deepEqual([...ids].sort(), ids);
  });

  it("strictly increases within one millisecond, borrowing the next after 4,096 ids", () => {
    const at = 1_800_000_000_000;
    const ids = Array.from({ length: 10_000 }, () => uuidv7(at));
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} then ${ids[i]}`);
    const stamp = (id: string): number => parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    assert.equal(stamp(ids[0]!), at);
    // The counter starts below 2048: at least 2,048 ids fit in the first millisecond.
    assert.equal(stamp(ids[2047]!), at);
    // 10,000 ids need at most 4 milliseconds of the future.
    assert.ok(stamp(ids[9999]!) <= at + 4, `${ids[9999]}`);
  });

  it("starts each millisecond's counter at a random value", () => {
    const counters = new Set<string>();
    for (let t = 0; t < 200; t++) counters.add(uuidv7(1_800_000_100_000 + t).slice(15, 18));
    assert.ok(counters.size > 150, `${counters.size} distinct counters in 200 milliseconds`);
  });

  it("does not go backwards when the clock steps back a little, and starts afresh when it steps back far", () => {
    const at = 1_800_000_200_000;
    const first = uuidv7(at);
    const stepped = uuidv7(at - 5);
    assert.ok(first < stepped);
    assert.equal(stepped.slice(0, 13), first.slice(0, 13), "keeps the later time");
    const far = uuidv7(at - 3_600_000);
    assert.equal(parseInt(far.slice(0, 8) + far.slice(9, 13), 16), at - 3_600_000);
  });
});
