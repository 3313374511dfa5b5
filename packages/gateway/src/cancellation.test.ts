// Pins Cancellation, the exchange's cheap AbortController: listeners run once, in order, with the
// first reason; removed listeners never run; the AbortSignal it makes on demand follows it
// whether made before or after the abort.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Cancellation, unlimitedAbortController } from "./cancellation.js";

describe("Cancellation", () => {
  it("runs each listener once, in order, with the first reason", () => {
    const c = new Cancellation();
    const seen: string[] = [];
    c.onAbort((r) => seen.push(`a:${(r as Error).message}`));
    c.onAbort((r) => seen.push(`b:${(r as Error).message}`));
    assert.equal(c.aborted, false);
    assert.equal(c.reason, undefined);
    const first = new Error("first");
    c.abort(first);
    c.abort(new Error("second"));
    assert.deepEqual(seen, ["a:first", "b:first"]);
    assert.equal(c.aborted, true);
    assert.equal(c.reason, first);
  });

  it("never runs a removed listener, and removing twice removes nothing else", () => {
    const c = new Cancellation();
    const seen: string[] = [];
    const removeA = c.onAbort(() => seen.push("a"));
    c.onAbort(() => seen.push("b"));
    removeA();
    removeA();
    c.abort(new Error("x"));
    assert.deepEqual(seen, ["b"]);
  });

  it("does not call a listener added after the abort", () => {
    const c = new Cancellation();
    c.abort(new Error("x"));
    let called = false;
    const remove = c.onAbort(() => (called = true));
    remove();
    assert.equal(called, false);
  });

  it("makes an AbortSignal that aborts with it", () => {
    const c = new Cancellation();
    const signal = c.signal;
    assert.equal(c.signal, signal, "one signal per cancellation");
    assert.equal(signal.aborted, false);
    const reason = new Error("gone");
    c.abort(reason);
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason, reason);
  });

  it("makes an already aborted AbortSignal after the abort", () => {
    const c = new Cancellation();
    const reason = new Error("gone");
    c.abort(reason);
    assert.equal(c.signal.aborted, true);
    assert.equal(c.signal.reason, reason);
  });
});

describe("unlimitedAbortController", () => {
  // Property: many calls in flight listening to a client's close() signal are load, not a leak:
  // no MaxListenersExceededWarning (printed once per gateway under load before).
  it("takes any number of listeners without a leak warning, and still aborts them all", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on("warning", onWarning);
    try {
      const controller = unlimitedAbortController();
      let aborted = 0;
      for (let i = 0; i < 50; i++) controller.signal.addEventListener("abort", () => aborted++);
      const plain = new AbortController(); // the control: Node warns past 10
      for (let i = 0; i < 11; i++) plain.signal.addEventListener("abort", () => {});
      await new Promise((resolve) => setImmediate(resolve));
      controller.abort();
      assert.equal(aborted, 50);
      assert.deepEqual(warnings, ["MaxListenersExceededWarning"]);
    } finally {
      process.off("warning", onWarning);
    }
  });
});
