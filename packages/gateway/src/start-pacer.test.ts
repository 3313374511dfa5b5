// StartPacer on a clock the test moves: which starts run at once, which wait for a later turn,
// and in what order. A "turn" here is one setImmediate, as in the pacer.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StartPacer } from "./start-pacer.js";

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A pacer with a budget of 4 ms on a clock at `t.now`, logging what ran. */
function pacer(budgetMs = 4) {
  const t = { now: 1_000 };
  const ran: string[] = [];
  let deferred = 0;
  const pacer = new StartPacer(budgetMs, () => (deferred += 1), () => t.now);
  // As the front uses it: at once if the turn allows, else later.
  const p = {
    start: (start: () => void): void => (pacer.startsNow() ? start() : pacer.later(start)),
    get pending(): number {
      return pacer.pending;
    },
  };
  /** A start that costs `costMs` on the clock. */
  const job = (name: string, costMs = 0) => (): void => {
    ran.push(name);
    t.now += costMs;
  };
  return { p, t, ran, job, deferred: () => deferred };
}

describe("StartPacer", () => {
  it("starts a lone request at once, in the caller's turn", () => {
    const { p, ran, job, deferred } = pacer();
    p.start(job("a"));
    assert.deepEqual(ran, ["a"]);
    assert.equal(p.pending, 0);
    assert.equal(deferred(), 0);
  });

  it("starts requests at once until the turn spent its budget, then the rest in later turns, in arrival order", async () => {
    const { p, ran, job, deferred } = pacer(4);
    p.start(job("a", 3));
    p.start(job("b", 3)); // 3 ms spent: still under 4
    p.start(job("c", 3)); // 6 ms spent: waits
    p.start(job("d"));
    assert.deepEqual(ran, ["a", "b"]);
    assert.equal(p.pending, 2);
    assert.equal(deferred(), 2);
    await nextTurn();
    assert.deepEqual(ran, ["a", "b", "c", "d"]);
    assert.equal(p.pending, 0);
  });

  it("keeps arrival order: a request arriving while others wait runs after them", async () => {
    const { p, ran, job } = pacer(4);
    p.start(job("a", 5));
    p.start(job("b", 5));
    p.start(job("c"));
    await nextTurn(); // b spends the turn's budget; c still waits
    assert.deepEqual(ran, ["a", "b"]);
    p.start(job("d"));
    assert.deepEqual(ran, ["a", "b"]);
    await nextTurn();
    assert.deepEqual(ran, ["a", "b", "c", "d"]);
  });

  it("runs waiting requests for at most the budget per turn", async () => {
    const { p, ran, job } = pacer(4);
    p.start(job("first", 10));
    for (const name of ["a", "b", "c", "d", "e"]) p.start(job(name, 3));
    assert.deepEqual(ran, ["first"]);
    await nextTurn();
    // a (3 ms, under 4) then b (6 ms): the turn stops there.
    assert.deepEqual(ran, ["first", "a", "b"]);
    await nextTurn();
    assert.deepEqual(ran, ["first", "a", "b", "c", "d"]);
    await nextTurn();
    assert.deepEqual(ran, ["first", "a", "b", "c", "d", "e"]);
    assert.equal(p.pending, 0);
  });

  it("gives every turn a fresh budget", async () => {
    const { p, ran, job, deferred } = pacer(4);
    p.start(job("a", 50));
    await nextTurn();
    p.start(job("b", 50));
    await nextTurn();
    p.start(job("c"));
    assert.deepEqual(ran, ["a", "b", "c"]);
    assert.equal(deferred(), 0);
  });

  it("counts the time the started request's continuations take as part of its start", async () => {
    const { p, t, ran, job } = pacer(4);
    p.start(job("first", 10));
    // a's own promise chain spends 5 ms after a returns: b must wait for the next turn.
    p.start(() => {
      ran.push("a");
      void Promise.resolve().then(() => (t.now += 5));
    });
    p.start(job("b"));
    await nextTurn();
    assert.deepEqual(ran, ["first", "a"]);
    await nextTurn();
    assert.deepEqual(ran, ["first", "a", "b"]);
  });

  it("with a budget of 0 starts every request at once", () => {
    const { p, ran, job, deferred } = pacer(0);
    for (const name of ["a", "b", "c"]) p.start(job(name, 100));
    assert.deepEqual(ran, ["a", "b", "c"]);
    assert.equal(deferred(), 0);
  });
});
